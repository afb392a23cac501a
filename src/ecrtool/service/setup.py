"""Setting a machine up for ECR: configure-docker, doctor, EC2 user data and `config show`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ecrtool.docker import config as dockerconfig
from ecrtool.model.errors import EcrToolError
from ecrtool.model.refs import PUBLIC_HOST, parse_repo_ref, registry_host, validate_account, validate_region
from ecrtool.model.results import ConfigureDockerResult, DoctorReport, RegistryProfile, SettingsReport, UserData
from ecrtool.service.base import ServiceBase


class Setup(ServiceBase):
    def configure_docker(
        self, regions: Iterable[str], accounts: Iterable[str], *, public: bool = False, sudo: bool = False
    ) -> ConfigureDockerResult:
        """Point the Docker config (root's with SUDO) at docker-credential-ecrtool for these registries.

        ECRTOOL_REGISTRY stands for every account and region; otherwise the registries are each
        account (default: the caller's) in each region (default: the settings').
        """
        from ecrtool.service import docker_setup

        wanted_regions = list(dict.fromkeys(validate_region(region) for region in regions))
        wanted_accounts = list(dict.fromkeys(validate_account(account) for account in accounts))
        if self.settings.registry_override:
            hosts = [self.settings.registry_override]
        else:
            wanted_regions = wanted_regions or [self.aws.region(self.settings.region)]
            if not wanted_accounts:
                wanted_accounts = [self.settings.registry_id or self.aws.caller_account()]
            hosts = [registry_host(account, region) for account in wanted_accounts for region in wanted_regions]
        if public:
            hosts.append(PUBLIC_HOST)
        if sudo:
            return docker_setup.configure_root(hosts)
        return docker_setup.configure(dockerconfig.config_path(), hosts, helper_path=docker_setup.find_helper())

    def doctor(self) -> DoctorReport:
        from ecrtool.service.doctor import Doctor

        return Doctor(self.settings, self.aws, self.docker).run()

    def user_data(
        self,
        ref_text: str,
        *,
        os_name: str,
        service: bool,
        run: dict[str, Any],
        install: str | None = None,
        index_url: str | None = None,
        launch_template: str | None = None,
        instance_profile: str | None = None,
        file_name: str = "user-data.sh",
    ) -> UserData:
        """`ecrtool ec2 user-data`: the script an instance runs at first boot to run REF. No AWS call.

        Without INSTALL, the instance installs what this ecrtool was installed from (its install record).
        """
        from ecrtool.service import userdata

        ref = parse_repo_ref(ref_text, self.settings.registry_override, public=True)
        # the registry's region as given here; else none, and the instance uses its own (instance metadata).
        # Never this machine's instance metadata or AWS profile: they say where the script is made, not run.
        region = (
            self.settings.region or ref.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        )
        return userdata.generate(
            ref_text=ref_text,
            os_name=os_name,
            region=region,
            registry_id=self.settings.registry_id,
            run=userdata.RunOptions(**run),
            service=service,
            install=install,
            index_url=index_url,
            launch_template=launch_template,
            instance_profile=instance_profile,
            file_name=file_name,
            registry_override=self.settings.registry_override,
        )

    def settings_report(self) -> SettingsReport:
        """`ecrtool config show`: the effective settings and where each came from."""
        from ecrtool.aws.session import PROFILE_SOURCE
        from ecrtool.model.settings import describe

        def profile_region() -> tuple[str, str] | None:
            try:
                region, source = self.aws.region_and_source()
            except EcrToolError:
                return None
            return region, f"{source} (~/.aws/config)" if source == PROFILE_SOURCE else source

        try:
            found = self.aws.credentials_source()
        except EcrToolError as err:
            found = ("none", str(err))
        report = describe(self.settings, os.environ, profile_region, credentials=found)
        from ecrtool.model.config import load_config, profile_routes

        routes = profile_routes(load_config(), self.settings.profile)
        return replace(report, profiles=[RegistryProfile(*route) for route in routes])
