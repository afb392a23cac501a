"""The root side of `ecrtool configure-docker --sudo`, run as `sudo -n python -I -m ecrtool.cli.root_config`.

The registries come on stdin as JSON; the result goes to stdout as JSON, for the unprivileged side to render.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from ecrtool.model.errors import EcrToolError
from ecrtool.service import docker_setup


def main() -> None:
    """The root side of --sudo: the registries on stdin as JSON, the result on stdout as JSON."""
    try:
        hosts = json.loads(sys.stdin.read())["hosts"]
        if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
            raise ValueError("hosts must be a list of registry hosts")
        result = docker_setup.configure(docker_setup.root_config_path(), hosts, helper_path=docker_setup.find_helper())
    except (EcrToolError, ValueError, KeyError) as err:
        sys.stderr.write(f"{err}\n")
        sys.exit(1)
    sys.stdout.write(json.dumps(asdict(result)) + "\n")


if __name__ == "__main__":
    main()
