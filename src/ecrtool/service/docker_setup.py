"""`ecrtool configure-docker`: make the Docker client ask docker-credential-ecrtool for ECR registries.

It adds `credHelpers` entries to the Docker config (the one the docker CLI reads: $DOCKER_CONFIG or
~/.docker), keeps every other entry, keeps the previous file as config.json.bak (0600: it may hold
passwords), writes atomically (0600), and changes nothing when the entries are already there.

--sudo configures root's Docker config, the one `sudo docker` reads. sudo resets the environment, so
that is ROOT'S HOME/.docker/config.json whatever DOCKER_CONFIG says; as root it is written directly,
otherwise through `sudo -n` running this module with the registries on stdin (no secret is involved).
The helper must then be on the PATH sudo gives root (secure_path), which that run checks too.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.config import HELPER, PROGRAM
from ecrtool.model.errors import EcrToolError, InvalidInput
from ecrtool.model.results import ConfigureDockerResult


def root_config_path() -> Path:
    return Path(pwd.getpwnam("root").pw_dir) / ".docker" / "config.json"


def find_helper(path: str | None = None) -> str | None:
    """docker-credential-ecrtool as the docker CLI would find it on PATH (the current PATH by default)."""
    return shutil.which(PROGRAM, path=path)


def installed_helper() -> Path | None:
    """Where this installation put docker-credential-ecrtool: beside the running ecrtool or python."""
    for folder in (Path(sys.argv[0]).resolve().parent, Path(sys.executable).parent):
        candidate = folder / PROGRAM
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def merge(data: dict[str, Any], hosts: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """Point HOSTS at the helper in DATA (in place): returns (added, replaced {host: old helper}, unchanged)."""
    helpers = data.get("credHelpers")
    if helpers is None:
        helpers = data["credHelpers"] = {}
    if not isinstance(helpers, dict):
        raise InvalidInput("the Docker config has a 'credHelpers' that is not an object: fix or remove it")
    added: list[str] = []
    replaced: dict[str, str] = {}
    unchanged: list[str] = []
    for host in hosts:
        old = helpers.get(host)
        if old == HELPER:
            unchanged.append(host)
            continue
        if old:
            replaced[host] = str(old)
        else:
            added.append(host)
        helpers[host] = HELPER
    return added, replaced, unchanged


def configure(path: Path, hosts: list[str], *, helper_path: str | None = None) -> ConfigureDockerResult:
    """Add HOSTS to the Docker config at PATH; back up and rewrite it only when something changes."""
    data = dockerconfig.load(path)
    try:
        original = path.read_bytes()
    except FileNotFoundError:
        original = None
    except OSError as err:
        raise EcrToolError(f"cannot read the Docker config {path}: {err.strerror}") from err
    added, replaced, unchanged = merge(data, hosts)
    backup: str | None = None
    if added or replaced:
        if original is not None:
            backup = str(path.with_name(path.name + ".bak"))
            _write_bytes_atomic(Path(backup), original)
        try:
            dockerconfig.write_atomic(path, data)
        except OSError as err:
            raise EcrToolError(f"cannot write the Docker config {path}: {err.strerror}") from err
    return ConfigureDockerResult(
        config_path=str(path),
        registries=list(hosts),
        added=added,
        replaced=replaced,
        unchanged=unchanged,
        backup=backup,
        helper=helper_path,
        installed_helper=str(installed_helper() or "") or None,
        for_root=False,
    )


def _write_bytes_atomic(path: Path, content: bytes) -> None:
    try:
        dockerconfig.replace_file(path, content)
    except OSError as err:
        raise EcrToolError(f"cannot write the backup {path}: {err.strerror}") from err


def configure_root(hosts: list[str]) -> ConfigureDockerResult:
    """Configure root's Docker config (what `sudo docker` reads); through `sudo -n` unless already root."""
    if os.geteuid() == 0:
        result = configure(root_config_path(), hosts, helper_path=find_helper())
    else:
        request = json.dumps({"hosts": hosts})
        # -I: root's interpreter must not put the working directory (anyone's files) on sys.path
        command = ["sudo", "-n", sys.executable, "-I", "-m", "ecrtool.cli.root_config"]
        try:
            done = subprocess.run(command, input=request, capture_output=True, text=True, timeout=120)
        except FileNotFoundError as err:
            raise EcrToolError("--sudo needs sudo, which is not installed: run this as root instead") from err
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["failed"])[-1]
            if "password" in detail.lower():
                raise EcrToolError(
                    "sudo asks for a password: run `sudo -v` first, then this command again"
                    " (or run `sudo ecrtool configure-docker` yourself)"
                )
            raise EcrToolError(f"configuring root's Docker config through sudo failed: {detail}")
        try:
            result = ConfigureDockerResult(**json.loads(done.stdout))
        except (ValueError, TypeError) as err:
            raise EcrToolError(f"configuring root's Docker config through sudo gave no result: {err}") from err
    return ConfigureDockerResult(**{**asdict(result), "for_root": True})
