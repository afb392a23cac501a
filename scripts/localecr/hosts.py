"""ECR's names on loopback while the stack is up: one marked block of /etc/hosts, removed exactly at down.

The block starts and ends with a line naming the state folder, so `down` takes out what this stack
put in and nothing else; a block another live stack holds, or one of ECR's names already mapped by a
line of someone else's, stops `up` with the line to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

from .state import ACCOUNTS, FRONT_IP, REGIONS, State

HOSTS = Path(os.environ.get("LOCAL_ECR_HOSTS_FILE") or "/etc/hosts")
BEGIN = "# local-ecr BEGIN "
END = "# local-ecr END "


class Taken(Exception):
    """A name or the block belongs to something else; the message says what."""


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def names() -> list[str]:
    """Every name the stack answers to: each account's registry in each region, the APIs, the layer buckets,
    and the APIs of the workloads that run images (ECS, Lambda, and IAM for their roles), which the bridge
    hands to moto unchanged (api.py forwards every call that is not ECR's)."""
    found = [registry_host(account.account_id, region) for account in ACCOUNTS for region in REGIONS]
    for region in REGIONS:
        found += [f"api.ecr.{region}.amazonaws.com", f"sts.{region}.amazonaws.com"]
        found += [f"ecs.{region}.amazonaws.com", f"lambda.{region}.amazonaws.com"]
        found.append(f"prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com")  # blobs' S3 (s3.py)
    return [*found, "sts.amazonaws.com", "iam.amazonaws.com", "public.ecr.aws"]


def _blocks(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first, last, state folder) of each local-ecr block."""
    found, start, owner = [], -1, ""
    for number, line in enumerate(lines):
        if line.startswith(BEGIN):
            start, owner = number, line[len(BEGIN) :].strip()
        elif line.startswith(END) and start >= 0:
            found.append((start, number, owner))
            start = -1
    return found


def add(state: State, alive: bool = False) -> None:
    """Put this stack's block in (again). ALIVE tells whether another stack's block belongs to a live stack."""
    lines = HOSTS.read_text().splitlines()
    mine = str(state.root)
    for start, end, owner in reversed(_blocks(lines)):
        if owner != mine and alive:
            raise Taken(f"ECR's names are held by the local ECR in {owner}: run its `down` first")
        del lines[start : end + 1]  # ours from before, or one a stack left behind when it died
    wanted = set(names())
    for line in lines:
        fields = line.split("#", 1)[0].split()
        clash = wanted.intersection(fields[1:])
        if clash:
            raise Taken(f"{HOSTS} already maps {sorted(clash)[0]} ({line.strip()!r}): remove that line first")
    lines += [BEGIN + mine, f"{FRONT_IP} " + " ".join(names()), END + mine]
    _write(lines)


def owners() -> list[str]:
    """The state folders of the stacks that have a block in the hosts file."""
    return [owner for _, _, owner in _blocks(HOSTS.read_text().splitlines())]


def remove(state: State) -> bool:
    """Take this stack's block out; False when there was none."""
    lines = HOSTS.read_text().splitlines()
    mine = [(start, end) for start, end, owner in _blocks(lines) if owner == str(state.root)]
    if not mine:
        return False
    for start, end in reversed(mine):
        del lines[start : end + 1]
    _write(lines)
    return True


def _write(lines: list[str]) -> None:
    # in place, not by rename: /etc/hosts is often a bind mount (containers), which a rename cannot replace
    text = "\n".join(lines) + "\n"
    with open(HOSTS, "r+", encoding="utf-8") as handle:
        handle.seek(0)
        handle.write(text)
        handle.truncate()
