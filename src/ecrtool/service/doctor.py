"""`ecrtool doctor`: every link between this shell and an ECR registry, checked once, each with its fix.

The usual failures look alike from `docker push` ("no basic auth credentials", "denied"): expired
passwords, credentials in another user's config under sudo or cron, the wrong region or account, a
socket that is not yours. Each check here names one of them. A check that needs what an earlier one
could not find (a region, an account) is skipped and says so; the command fails if any check fails.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.client import HTTPException
from typing import TYPE_CHECKING

from ecrtool.aws.ecr import Ecr
from ecrtool.aws.errors import translate
from ecrtool.docker import config as dockerconfig
from ecrtool.docker.config import HELPER, PROGRAM
from ecrtool.model import proxy, token_cache
from ecrtool.model.errors import AuthError, EcrToolError, InvalidInput
from ecrtool.model.refs import is_loopback, registry_host
from ecrtool.model.results import DoctorCheck, DoctorReport
from ecrtool.model.settings import describe_host
from ecrtool.registry import probe
from ecrtool.service.docker_setup import find_helper, installed_helper, root_config_path

if TYPE_CHECKING:
    from ecrtool.aws.session import AwsSession
    from ecrtool.docker.runner import DockerRunner
    from ecrtool.model.settings import Settings

CREDENTIALS_FIX = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, run `aws configure`, or use an instance role"
)
REGION_FIX = "pass --region, set AWS_REGION, or set region in ~/.aws/config"
ENGINE_FIX = "start the engine (sudo systemctl start docker) or point --docker-host / DOCKER_HOST at a running one"
CONFIGURE_FIX = "run `ecrtool configure-docker` (and `ecrtool configure-docker --sudo` for `sudo docker`)"
SUDO_CONFIGURE_FIX = "run `ecrtool configure-docker --sudo`"
TRUST_FIX = (
    "if a proxy or firewall inspects TLS, add its CA certificate to the bundle ecrtool and botocore trust"
    " (AWS_CA_BUNDLE) and to the system's trust store, then restart the Docker engine; else check the clock"
)
_TIMEOUT = 5


def ok(name: str, detail: str) -> DoctorCheck:
    return DoctorCheck(name=name, status="ok", detail=detail)


def fail(name: str, detail: str, fix: str) -> DoctorCheck:
    return DoctorCheck(name=name, status="fail", detail=detail, fix=fix)


def skip(name: str, detail: str) -> DoctorCheck:
    return DoctorCheck(name=name, status="skip", detail=detail)


def span(delta: timedelta) -> str:
    """A duration as people say it: 45 s, 12 min, 11 h 58 min."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class Doctor:
    """Runs the checks in order; later checks use what earlier ones found (region, account, host)."""

    def __init__(
        self,
        settings: Settings,
        aws: AwsSession,
        docker: DockerRunner,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.aws = aws
        self.docker = docker
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.region: str | None = None
        self.account: str | None = None
        # ECRTOOL_REGISTRY names the registry outright; otherwise it takes the caller's account
        self.host: str | None = self.settings.registry_override

    def run(self) -> DoctorReport:
        region = self.check_region()  # first: STS and ECR need it; shown second, as people read it
        checks = [
            self.check_credentials(),
            region,
            self.check_token_allowed(),
            self.check_engine(),
            self.check_socket(),
            self.check_docker_config(),
            self.check_helper(),
            self.check_cached_token(),
            self.check_registry(),
        ]
        return DoctorReport(checks=checks)

    # -- AWS ------------------------------------------------------------------------------------

    def check_region(self) -> DoctorCheck:
        name = "region"
        try:
            self.region = self.aws.region(self.settings.region)
        except EcrToolError as err:
            return fail(name, str(err), REGION_FIX)
        if self.settings.region:
            # the settings say where they found it: the flag, ECRTOOL_REGION or the config file's line
            source = self.settings.sources.get("region") or "--region"
        else:
            source = self.aws.region_and_source()[1]
        return ok(name, f"{self.region} (from {source})")

    def check_credentials(self) -> DoctorCheck:
        name = "AWS credentials"
        try:
            sts = self.aws.client("sts", self.region or "us-east-1")
            with translate("sts:GetCallerIdentity"):
                who = sts.get_caller_identity()
        except EcrToolError as err:
            return fail(name, str(err), CREDENTIALS_FIX)
        self.account = str(who.get("Account", "")) or None
        registry = self.settings.registry_id or self.account
        if self.host is None and registry and self.region:
            self.host = registry_host(registry, self.region)
        try:
            what, where = self.aws.credentials_source()
            source = f"{what} ({where}): "
        except EcrToolError:
            source = ""
        return ok(name, f"{source}{who.get('Arn', '?')} (account {self.account})")

    def check_token_allowed(self) -> DoctorCheck:
        name = "ecr:GetAuthorizationToken"
        if self.region is None:
            return skip(name, "needs a region")
        try:
            ecr = Ecr(self.aws.client("ecr", self.region), registry_id=self.settings.registry_id)
            token = ecr.authorization_token()  # straight from AWS: a cached token proves nothing about today
        except AuthError as err:
            if "access denied" in str(err):
                return fail(
                    name, str(err), 'allow ecr:GetAuthorizationToken (Resource "*") in the caller\'s IAM policy'
                )
            return fail(name, str(err), CREDENTIALS_FIX)
        except EcrToolError as err:
            return fail(name, str(err), "check the network, --region and AWS_ENDPOINT_URL")
        until = f"; tokens last until {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else ""
        return ok(name, f"allowed{until}")

    # -- Docker ---------------------------------------------------------------------------------

    def check_engine(self) -> DoctorCheck:
        name = "Docker engine"
        where = describe_host(self.settings.docker_host)
        try:
            report = self.docker.version()
        except EcrToolError as err:
            return fail(name, str(err), ENGINE_FIX)
        platform = "/".join(str(report[k]) for k in ("Os", "Arch") if report.get(k))
        return ok(
            name,
            f"{report.get('Version', '?')} (API {report.get('ApiVersion', '?')}, {platform or '?'}) at {where}",
        )

    def check_socket(self) -> DoctorCheck:
        name = "Docker socket"
        where = describe_host(self.settings.docker_host)
        if not where.startswith("unix://"):
            return skip(name, f"the engine is at {where}: no local socket to check")
        path = where.removeprefix("unix://")
        if self.settings.sudo:
            return ok(name, f"docker runs through sudo -n: root uses {path}")
        me = _user(os.geteuid())
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return fail(name, f"no socket at {path}", ENGINE_FIX)
        except PermissionError:
            return fail(name, f"permission denied for {me} on {path} (or a folder above it)", _access_fix("docker"))
        except OSError as err:
            return fail(name, f"cannot look at {path}: {err.strerror}", ENGINE_FIX)
        owner = f"{stat.filemode(info.st_mode)} {_user(info.st_uid)}:{_group(info.st_gid)}"
        if not stat.S_ISSOCK(info.st_mode):
            return fail(name, f"{path} is not a socket ({owner})", ENGINE_FIX)
        if not os.access(path, os.R_OK | os.W_OK):
            return fail(
                name, f"{path} ({owner}) is not readable and writable by {me}", _access_fix(_group(info.st_gid))
            )
        return ok(name, f"{path} ({owner}) is usable by {me}")

    def check_docker_config(self) -> DoctorCheck:
        name = "Docker config"
        path = dockerconfig.config_path()
        source = "from DOCKER_CONFIG" if os.environ.get("DOCKER_CONFIG") else "from HOME"
        fix = CONFIGURE_FIX
        if self.settings.sudo:
            # docker runs through sudo, which drops DOCKER_CONFIG: root's own config is the one in use
            path, source, fix = root_config_path(), "root's: docker runs through sudo", SUDO_CONFIGURE_FIX
            try:
                with open(path, "rb"):
                    pass
            except PermissionError:
                return skip(name, f"{path} (root's, what `sudo docker` reads) needs root: run `sudo ecrtool doctor`")
            except OSError:
                pass  # missing: an empty config, reported below
        try:
            data = dockerconfig.load(path)
        except EcrToolError as err:
            return fail(name, str(err), f"fix or remove {path}, then {fix}")
        where = f"{path} ({source})"
        if self.host is None:
            return skip(name, f"{where}; the registry is unknown without credentials")
        helpers = data.get("credHelpers") if isinstance(data.get("credHelpers"), dict) else {}
        helper = (helpers or {}).get(self.host)
        if helper == HELPER:
            return ok(name, f"{where} uses {PROGRAM} for {self.host}")
        if helper:
            return ok(name, f"{where} uses docker-credential-{helper} for {self.host} (not ecrtool's helper)")
        auths = data.get("auths") if isinstance(data.get("auths"), dict) else {}
        if self.host in (auths or {}) or data.get("credsStore"):
            detail = f"{where} keeps a `docker login` password for {self.host}, which expires 12 hours after login"
        else:
            detail = f"{where} has no credentials for {self.host}: plain `docker` commands are not logged in"
        return fail(name, detail, fix)

    def check_helper(self) -> DoctorCheck:
        name = "credential helper"
        found = find_helper()
        if found:
            return ok(name, f"{PROGRAM} is {found}")
        installed = installed_helper()
        if installed:
            fix = f"put {installed.parent} on PATH, or: sudo ln -s {installed} /usr/local/bin/{PROGRAM}"
        else:
            fix = "reinstall ecrtool (pip install ecrtool), which installs it"
        return fail(name, f"{PROGRAM} is not on PATH: docker cannot run it", fix)

    def check_cached_token(self) -> DoctorCheck:
        name = "token cache"
        folder = token_cache.cache_dir()
        if self.settings.no_cache:
            return skip(name, "--no-cache: not used")
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            return ok(name, f"empty ({folder}): the next command or docker pull fetches a token")
        except OSError as err:
            return fail(name, f"cannot look at {folder}: {err.strerror}", "set XDG_CACHE_HOME to a folder of yours")
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return fail(
                name,
                f"{folder} is not a folder of {_user(os.geteuid())}'s: tokens are not cached",
                f"remove it (sudo rm -r {folder}) or set XDG_CACHE_HOME to a folder of yours",
            )
        if self.region is None:
            return skip(name, f"{folder}; needs a region")
        try:
            identity = token_cache.environment_identity(os.environ, self.settings.profile) or (self.aws.identity())
        except EcrToolError:
            return skip(name, f"{folder}; needs credentials")
        accounts = {self.settings.registry_id, self.account}
        keys = [token_cache.make_key(account, self.region, identity) for account in accounts]
        found = [entry for entry in (token_cache.read(key, folder) for key in keys) if entry is not None]
        if not found:
            planted = any((folder / key.filename).exists() for key in keys)
            if planted:
                detail = "an untrusted file is there (not yours, not 0600, or damaged): the next use replaces it"
                return ok(name, f"{folder}: {detail}")
            return ok(name, f"no token for {self.region} yet ({folder}): the next command or docker pull fetches one")
        entry = max(found, key=lambda item: item.token.expires_at or datetime.min.replace(tzinfo=timezone.utc))
        now = self.now()
        expires_at = entry.token.expires_at
        assert expires_at is not None
        age = f"fetched {span(now - entry.fetched_at)} ago, " if entry.fetched_at else ""
        if token_cache.fresh(entry.token, now):
            return ok(name, f"{age}expires in {span(expires_at - now)}, reused until 15 min before ({entry.path})")
        return ok(name, f"{age}expired or expiring ({expires_at:%H:%M %Z}): the next use fetches a new one")

    def check_registry(self) -> DoctorCheck:
        name = "registry"
        if self.host is None:
            return skip(name, "the registry is unknown without credentials")
        # as copy's registry client sees it: plain http only on this machine, else https with ecrtool's one
        # trust (model/tls), through the proxy the environment names (model/proxy)
        secure = not is_loopback(self.host)
        url = f"{'https' if secure else 'http'}://{self.host}/v2/"
        host, port = probe.address(self.host)
        if not secure and ":" not in self.host.rpartition("]")[2]:
            port = 80
        try:
            conn = proxy.connection(secure, host, port, timeout=_TIMEOUT)
            try:
                conn.request("GET", "/v2/")
                status = conn.getresponse().status
            finally:
                conn.close()
        except InvalidInput as err:
            return fail(name, str(err), "set HTTPS_PROXY to the proxy's http://HOST:PORT, or unset it")
        except (OSError, HTTPException) as err:
            reason = err
            refused = probe.untrusted(reason)
            if refused:
                return fail(name, f"{url} answers with a certificate not trusted here: {refused}", TRUST_FIX)
            why = probe.why(reason, self.host, _TIMEOUT) if isinstance(reason, OSError) else str(reason)
            return fail(
                name,
                f"cannot reach {url}: {why}",
                "check the network, the proxy (HTTPS_PROXY, NO_PROXY), firewalls and any VPC endpoint for ECR",
            )
        if status in (200, 401):
            return ok(name, f"{url} answers (HTTP {status})")
        return fail(
            name, f"{url} answers HTTP {status}: not a registry", "check --registry-id, --region, ECRTOOL_REGISTRY"
        )


def _access_fix(group: str) -> str:
    return f"join the socket's group (sudo usermod -aG {group} $USER, then log in again) or pass --sudo"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
