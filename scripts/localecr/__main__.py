"""Command line for the Python half of ``scripts/local-ecr``: ``python3 -m localecr COMMAND``.

The bash script starts and stops processes; this prepares the state folder, prints the env,
waits for or reports on the components, and puts test images the engine cannot build in the registry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import multiarch
from .health import COMPONENTS, running_pid, status_lines, wait
from .state import State, resolve_home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m localecr")
    commands = parser.add_subparsers(dest="command", required=True)
    home = commands.add_parser("home", help="print the state folder to use")
    home.add_argument("--repo", type=Path, required=True, help="the repository root")
    for name, text in [
        ("prepare", "create the state folder, ports, password, htpasswd and configs"),
        ("faces", "make the certificates and map ECR's names to the stack in /etc/hosts"),
        ("unfaces", "take the stack's lines out of /etc/hosts"),
        ("env", "print the eval-able exports"),
        ("status", "one line per component; exit 1 if any is down"),
        ("wait", "wait until the components answer"),
    ]:
        command = commands.add_parser(name, help=text)
        command.add_argument("--state", type=Path, required=True, help="the state folder")
        if name == "wait":
            command.add_argument("--timeout", type=float, default=60.0)
            command.add_argument("components", nargs="*", help=f"some of {', '.join(COMPONENTS)}")
        if name == "status":
            command.add_argument("--quiet", action="store_true", help="only the exit code")
        if name == "env":
            kinds = command.add_mutually_exclusive_group()
            kinds.add_argument(
                "--instance",
                dest="kind",
                action="store_const",
                const="instance",
                default="keys",
                help="as on an EC2 instance: no keys, no region, no profile; the instance metadata stand-in only",
            )
            kinds.add_argument(
                "--container",
                dest="kind",
                action="store_const",
                const="container",
                help="as in an ECS task or CodeBuild job: the container-credentials endpoint and its token",
            )
    pid = commands.add_parser("pid", help="print a component's pid; exit 1 if it is not running")
    pid.add_argument("--state", type=Path, required=True, help="the state folder")
    pid.add_argument("component", choices=COMPONENTS)
    multiarch.add_arguments(commands.add_parser("index", help="put a two-platform image index in the registry"))
    args = parser.parse_args(argv)

    if args.command == "home":
        print(resolve_home(args.repo))
        return 0
    if args.command == "index":
        return multiarch.run(args)
    state = State(args.state)
    if args.command == "prepare":
        state.prepare()
    elif args.command == "faces":
        return _faces(state)
    elif args.command == "unfaces":
        from . import hosts

        hosts.remove(state)
    elif args.command == "env":
        sys.stdout.write(state.env_exports(args.kind))
    elif args.command == "status":
        if not state.ports_file.exists():
            if not args.quiet:
                print(f"no stack in {state.root}; run scripts/local-ecr up")
            return 1
        lines, all_up = status_lines(state)
        if not args.quiet:
            print("\n".join(lines))
        return 0 if all_up else 1
    elif args.command == "pid":
        found = running_pid(state, args.component)
        if found is None:
            return 1
        print(found)
    elif args.command == "wait":
        unknown = set(args.components) - set(COMPONENTS)
        if unknown:
            parser.error(f"unknown components: {', '.join(sorted(unknown))}")
        error = wait(state, args.components or list(COMPONENTS), args.timeout)
        if error:
            print(f"local-ecr: {error}", file=sys.stderr)
            return 1
    return 0


def _faces(state: State) -> int:
    """ECR's names for a stack that is not plain: certificates for them, the port, /etc/hosts."""
    if state.plain:
        return 0
    import socket

    from . import hosts, tls
    from .state import FRONT_IP

    tls.ensure(state, hosts.names())
    if running_pid(state, "bridge") is None:  # ours holds the port when it runs; anything else must not
        for port in (443, 80):
            try:
                with socket.socket() as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the bridge binds it
                    probe.bind((FRONT_IP, port))
            except OSError as err:
                print(
                    f"local-ecr: {FRONT_IP}:{port} is taken ({err.strerror}): stop what listens there, "
                    "or set LOCAL_ECR_FRONT_IP to another loopback address",
                    file=sys.stderr,
                )
                return 1
    alive = any(
        running_pid(State(Path(owner)), "bridge") is not None for owner in hosts.owners() if owner != str(state.root)
    )
    try:
        hosts.add(state, alive=alive)
    except hosts.Taken as err:
        print(f"local-ecr: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
