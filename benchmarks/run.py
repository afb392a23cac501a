#!/usr/bin/env python3
"""ecrtool against the aws/docker chain it replaces, on a private local ECR (scripts/local-ecr).

    benchmarks/run.py                  every figure, 7 interleaved runs each; exit 1 if a target is missed
    benchmarks/run.py --short          CI: 3 runs, smaller listings; exit 1 only if a ratio misses its
                                       target by more than 2x (never on an absolute time)
    benchmarks/run.py --write BENCHMARKS.md    also put the figures, date and machine in that file
    benchmarks/run.py --only prune     the prune figures alone (3 runs; --short: 1, smaller)

Each figure is the median of interleaved runs (ecrtool, then the chain, then ecrtool...), timed with
time.perf_counter around the processes; peak memory is each process's own ru_maxrss from wait4.
Needs root (the stack runs its own dockerd), the docker CLI and awscli (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "scripts" / "local-ecr"
BIN = Path(sys.executable).parent
ECRTOOL = str(BIN / "ecrtool")
AWS = str(BIN / "aws")
START, END = "<!-- figures:start -->", "<!-- figures:end -->"

Argv = Sequence[str]
RELAYED = "<the first command's output>"


@dataclass(frozen=True)
class Relay:
    """Two commands, the second given the first's output (less its final newline) where its argv says
    RELAYED: what a shell's "$(...)" does for the aws chain, without a shell."""

    first: Argv
    then: Argv


# one step of a run: a command, a pipeline of commands (a list of argvs), or a relay of two
Step = Argv | list[Argv] | Relay


# -- running and measuring -------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    rss_kb: int  # the largest ru_maxrss among the processes of the run
    cpu: float = 0.0  # user + system seconds of the processes themselves (not the servers they call)


class Failed(Exception):
    pass


def run_steps(steps: Sequence[Step], env: dict[str, str]) -> Sample:
    """Run STEPS one after the other (each a command or a pipeline); time all, keep the peak RSS."""
    peak = 0
    cpu = 0.0
    started = time.perf_counter()
    for step in steps:
        if isinstance(step, Relay):
            _, rss, used = _relay(step, env)
            peak, cpu = max(peak, rss), cpu + used
            continue
        pipeline = list(step) if step and not isinstance(step[0], str) else [step]
        procs: list[subprocess.Popen[bytes]] = []
        errors = []
        for i, argv in enumerate(pipeline):
            err = tempfile.TemporaryFile()
            errors.append(err)
            procs.append(
                subprocess.Popen(
                    list(argv),  # type: ignore[arg-type]
                    stdin=procs[-1].stdout if procs else subprocess.DEVNULL,
                    stdout=subprocess.PIPE if i < len(pipeline) - 1 else subprocess.DEVNULL,
                    stderr=err,
                    env=env,
                )
            )
            if len(procs) > 1 and procs[-2].stdout is not None:
                procs[-2].stdout.close()  # the next command owns the pipe now
        for proc, err in zip(procs, errors, strict=True):
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            peak = max(peak, usage.ru_maxrss)
            cpu += usage.ru_utime + usage.ru_stime
            if proc.returncode != 0:
                err.seek(0)
                raise Failed(f"{shlex.join(proc.args)} exited {proc.returncode}: {err.read().decode()[-800:]}")  # type: ignore[arg-type]
    return Sample(time.perf_counter() - started, peak, cpu)


def _relay(step: Relay, env: dict[str, str]) -> tuple[bytes, int, float]:
    """Run STEP's two commands; the second's output, the peak RSS and the CPU of both."""
    output = b""
    peak, cpu = 0, 0.0
    for second in (False, True):
        argv = (
            [output.decode().removesuffix("\n") if arg == RELAYED else arg for arg in step.then]
            if second
            else step.first
        )
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env)
            assert proc.stdout is not None
            output = proc.stdout.read()  # then wait4, not proc.wait(): it reaps the process and its usage
            proc.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            peak, cpu = max(peak, usage.ru_maxrss), cpu + usage.ru_utime + usage.ru_stime
            if proc.returncode != 0:
                err.seek(0)
                raise Failed(f"{shlex.join(argv)} exited {proc.returncode}: {err.read().decode()[-800:]}")
    return output, peak, cpu


@dataclass
class Figure:
    """One comparison: ecrtool's steps against the chain's, and the ratio it should stay under."""

    name: str
    ecrtool: Callable[[int], Sequence[Step]]
    chain: Callable[[int], Sequence[Step]] | None
    target: float | None  # ecrtool / chain
    absolute_ms: float | None = None  # a bound on ecrtool's median too (full mode only)
    versus: Figure | None = None  # no chain of its own: compared with that figure's chain
    chain_name: str = "login chain"  # what the chain is, as a row compared with it says
    before_chain: Callable[[], None] | None = None  # untimed, before each run of the chain
    env: dict[str, str] | None = None  # both sides' environment, when not the run's (an instance's)
    # a target missed for a reason recorded in BENCHMARKS.md and the issue: reported in every run, its miss
    # does not fail the run (a ratio of one that is not the reason shows up as before)
    known_miss: str = ""
    mine: list[Sample] = field(default_factory=list)
    theirs: list[Sample] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return statistics.median(s.seconds for s in self.mine) * 1000

    @property
    def chain_ms(self) -> float | None:
        if self.versus is not None:
            return self.versus.chain_ms
        return statistics.median(s.seconds for s in self.theirs) * 1000 if self.theirs else None

    @property
    def ratio(self) -> float | None:
        return self.ms / self.chain_ms if self.chain_ms else None


def measure(figures: list[Figure], runs: int, env: dict[str, str]) -> None:
    """Interleave: each round runs every variant once, the order turning round by round."""
    variants = [(f, "mine") for f in figures] + [(f, "theirs") for f in figures if f.chain]
    for n in range(runs):
        turn = n % len(variants)
        for figure, side in variants[turn:] + variants[:turn]:
            if side == "theirs" and figure.before_chain:
                figure.before_chain()
            steps = (figure.ecrtool if side == "mine" else figure.chain)(n)  # type: ignore[misc]
            getattr(figure, side).append(run_steps(steps, figure.env or env))


# -- the stack and its data ------------------------------------------------------------------------


class Stack:
    """The repository's local ECR, on ECR's names over TLS as users meet ECR: started if it is not up,
    and stopped again at the end only then."""

    def __init__(self) -> None:
        self.base = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        status = subprocess.run([str(STACK), "status"], capture_output=True, text=True, env=self.base, timeout=60)
        self.started = status.returncode != 0
        # a running stack (perhaps another's) is joined as it is: `env`, not `up`
        verb = "up" if self.started else "env"
        done = subprocess.run([str(STACK), verb], capture_output=True, text=True, env=self.base, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"benchmarks: could not start the local ECR: {done.stderr.strip()}")
        lines = [line for line in done.stdout.splitlines() if line.startswith("export ")]
        self.env = dict(shlex.split(line)[1].split("=", 1) for line in lines)
        self.home = Path(self.env["LOCAL_ECR_HOME"])
        self.base["LOCAL_ECR_HOME"] = str(self.home)
        self.registry = self.env.get("ECRTOOL_REGISTRY") or "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
        ports = dict(line.split("=", 1) for line in (self.home / "ports").read_text().split())
        self.moto = f"http://127.0.0.1:{ports['MOTO_PORT']}"
        self.api = f"http://127.0.0.1:{ports['API_PORT']}"
        # the stack outlives the run: this run's repositories get names of their own, and go at the end
        self.prefix = f"bench{time.strftime('%H%M%S')}-"
        self.repositories: list[tuple[str, str | None]] = []  # and their regions (None: the stack's)
        self.images: list[str] = []  # built in the stack's engine, and every name they were pushed under

    def repo(self, name: str, region: str | None = None) -> str:
        self.repositories.append((self.prefix + name, region))
        return self.prefix + name

    def ecr(self, region: str | None = None):  # type: ignore[no-untyped-def]
        """A boto3 ECR client on the stack's API (so its registry sees what it does too)."""
        import boto3

        env = self.env
        return boto3.client(
            "ecr",
            region_name=region or env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            endpoint_url=env.get("AWS_ENDPOINT_URL"),
            verify=env.get("AWS_CA_BUNDLE"),
        )

    def down(self) -> None:
        """Delete this run's repositories (through the stack's API, so its registry forgets them too)."""
        clients = {}
        for name, region in self.repositories:
            ecr = clients.setdefault(region, self.ecr(region))
            try:
                ecr.delete_repository(repositoryName=name, force=True)
            except ecr.exceptions.RepositoryNotFoundException:
                pass
        engine = {**self.base, **self.env}
        listed = subprocess.run(
            ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, env=engine
        )
        names = [n for n in listed.stdout.split() if n in self.images or self.prefix in n]
        if names:  # 50 MB each: the stack's engine keeps what is not removed
            subprocess.run(["docker", "rmi", "--force", *names], capture_output=True, env=engine, timeout=300)
        if self.started:
            subprocess.run([str(STACK), "down"], capture_output=True, env=self.base, timeout=300)

    def image(self, name: str, *options: str) -> str:
        subprocess.run([str(STACK), "image", name, *options], check=True, capture_output=True, env=self.base)
        self.images.append(name)
        return name

    def control(self, name: str, doc: dict[str, object] | None = None) -> dict[str, int]:
        import urllib.request

        data = None if doc is None else json.dumps(doc).encode()
        with urllib.request.urlopen(f"{self.api}/_bridge/{name}", data=data, timeout=30) as r:
            result: dict[str, int] = json.load(r)
            return result

    def seed(self, repo: str, count: int) -> None:
        """COUNT images (distinct manifests, one tag each: t0, t1, ...) put straight into moto's ECR.

        Pushing them through the registry would take minutes; these exist only in the ECR API, which
        is all that listing and deleting through ecrtool or the aws CLI touch.
        """
        import boto3

        ecr = boto3.client(
            "ecr",
            endpoint_url=self.moto,
            region_name="ca-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        try:
            ecr.create_repository(repositoryName=repo)
        except ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        for i in range(count):
            blob = "sha256:" + hashlib.sha256(f"{repo}-{i}".encode()).hexdigest()
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100, "digest": blob},
                "layers": [
                    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1000 + i, "digest": blob}
                ],
            }
            ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=f"t{i}")


def command_env(stack: Stack, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECRTOOL_", "DOCKER_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install has its bytecode cached
    env.update(stack.env)
    env.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"), PATH=stack.base["PATH"])
    return env


# -- the figures -----------------------------------------------------------------------------------


def chain_login(registry: str, region: str | None = None) -> list[Argv]:
    where = ["--region", region] if region else []
    return [
        [AWS, "ecr", "get-login-password", *where],
        ["docker", "login", "--username", "AWS", "--password-stdin", registry],
    ]


def startup_and_login(stack: Stack) -> list[Figure]:
    registry = stack.registry
    aws_version = lambda n: [[AWS, "--version"]]  # noqa: E731
    return [
        Figure("start-up: ecrtool --help vs aws --version", lambda n: [[ECRTOOL, "--help"]], aws_version, 0.25, 120),
        Figure(
            "start-up: ecrtool --version vs aws --version", lambda n: [[ECRTOOL, "--version"]], aws_version, 0.25, 120
        ),
        Figure(
            "login, no cached token (--no-cache)",
            lambda n: [[ECRTOOL, "login", "--no-cache"]],
            lambda n: [chain_login(registry)],
            0.4,
        ),
        Figure("login, cached token", lambda n: [[ECRTOOL, "login"]], lambda n: [chain_login(registry)], 0.15),
    ]


def instance_env(stack: Stack, home: Path) -> dict[str, str]:
    """An EC2 instance's environment: no keys, no region, no profile; the local ECR's instance metadata
    (`scripts/local-ecr env --instance`) is the only source of credentials."""
    done = subprocess.run([str(STACK), "env", "--instance"], capture_output=True, text=True, env=stack.base, check=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("export ")]
    env = dict(shlex.split(line)[1].split("=", 1) for line in lines)
    home.mkdir(exist_ok=True)
    return {**env, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker"), "PATH": stack.base["PATH"]}


def on_instance(stack: Stack, env: dict[str, str]) -> list[Figure]:
    """Login and the credential helper on an instance role, against the same chain on the same role (the
    aws command reads the role's keys from the same instance metadata; it needs the region named)."""
    registry, region = stack.registry, "ca-west-1"
    chain = lambda n: [chain_login(registry, region)]  # noqa: E731
    helper = str(BIN / "docker-credential-ecrtool")
    login = Figure("instance role: login, no cached token", lambda n: [[ECRTOOL, "login", "--no-cache"]], chain, 0.4)
    login.env = env
    cached = Figure("instance role: login, cached token", lambda n: [[ECRTOOL, "login"]], chain, 0.15)
    cached.env = env
    get = Figure(
        "instance role: docker-credential-ecrtool get, cached token",
        lambda n: [[["echo", registry], [helper, "get"]]],
        None,
        None,
        60,
        versus=login,
    )
    get.env = env
    return [login, cached, get]


def floors(login: Figure) -> list[Figure]:
    """What any Python command line pays before doing anything, against the login chain: the costs
    ecrtool cannot go below; and the login as it was with botocore (full mode only)."""
    python = str(BIN / "python")
    client = "import botocore.session; botocore.session.Session().create_client('ecr', region_name='ca-west-1')"
    return [
        Figure("floor: python -c pass", lambda n: [[python, "-c", "pass"]], None, None, versus=login),
        Figure("floor: python, import click", lambda n: [[python, "-c", "import click"]], None, None, versus=login),
        Figure(
            "floor: python, import botocore, make an ECR client",
            lambda n: [[python, "-c", client]],
            None,
            None,
            versus=login,
        ),
        Figure(
            "floor: python, import docker (docker-py)",
            lambda n: [[python, "-c", "import docker"]],
            None,
            None,
            versus=login,
        ),
        Figure(
            "for comparison: login, no cached token, every call through botocore (ECRTOOL_AWS_CLIENT=botocore)",
            lambda n: [["env", "ECRTOOL_AWS_CLIENT=botocore", ECRTOOL, "login", "--no-cache"]],
            None,
            None,
            versus=login,
        ),
    ]


def pushes(stack: Stack, runs: int, tag: str) -> list[Figure]:
    registry, repo = stack.registry, stack.repo("bench")
    base = stack.image("bench-base:1", "--layers", "5", "--size-mb", "50")
    fresh = {(side, n): f"bench-fresh-{side}:{tag}{n}" for side in "ec" for n in range(runs)}
    for name in fresh.values():
        stack.image(name, "--layers", "5", "--size-mb", "50")

    def chain_push(image: str, remote: str) -> list[Step]:
        return [chain_login(registry), ["docker", "tag", image, remote], ["docker", "push", remote]]

    return [
        Figure(
            "push a new tag of an image already in the repository",
            lambda n: [[ECRTOOL, "push", base, "--repo", repo, "--tag", f"{tag}e{n}"]],
            lambda n: chain_push(base, f"{registry}/{repo}:{tag}c{n}"),
            0.6,
        ),
        Figure(
            "push a fresh 5-layer, 50 MB image",
            lambda n: [[ECRTOOL, "push", fresh["e", n], "--repo", repo]],
            lambda n: chain_push(fresh["c", n], f"{registry}/{repo}:{tag}f{n}"),
            1.05,
        ),
    ]


def retags(stack: Stack, env: dict[str, str], tag: str) -> list[Figure]:
    """New tags for an image already in the repository: ecrtool's one command against the aws CLI's two,
    the manifest passed from one to the other as "$(aws ecr batch-get-image ...)" would."""
    repo, source = stack.repo("bench"), f"{tag}-retag-source"
    base = stack.image("bench-base:1", "--layers", "5", "--size-mb", "50")
    run_steps([[ECRTOOL, "push", base, "--repo", repo, "--tag", source, "-q"]], env)
    get = [AWS, "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", f"imageTag={source}"]
    get += ["--query", "images[0].imageManifest", "--output", "text"]
    put = [AWS, "ecr", "put-image", "--repository-name", repo, "--image-manifest", RELAYED, "--image-tag"]
    return [
        Figure(
            "retag: ecrtool retag vs aws ecr batch-get-image + aws ecr put-image",
            lambda n: [[ECRTOOL, "retag", f"{repo}:{source}", f"{tag}-re{n}", "-q"]],
            lambda n: [Relay(get, [*put, f"{tag}-rc{n}"])],
            0.3,
        )
    ]


EAST = "us-east-1"


def copies(stack: Stack, env: dict[str, str], runs: int, tag: str) -> list[Figure]:
    """ecrtool copy into another region, against the docker chain (whose pull really fetches: the image
    is removed from the engine before each run, untimed) and against skopeo with a written auth file.
    Every run copies into a repository of its own; ecrtool creates its own (--create, timed), the
    chains' are created beforehand, untimed, as `docker push` and skopeo cannot create one. A fresh copy's
    run N copies image N, new to every side: skopeo remembers where it put blobs and would mount them
    from an earlier run's repository, and the engine remembers what it pushed."""
    registry = stack.registry
    east = registry.replace(".ca-west-1.", f".{EAST}.")
    repo = stack.repo("copy-src")
    for n in range(runs):
        push_fresh(stack, env, repo, f"{tag}-{n}", f"bench-copy-{n}:1", 50)
    push_fresh(stack, env, repo, tag, "bench-copy:1", 50)
    ref = f"{registry}/{repo}:{tag}"
    skopeo = skopeo_args(stack, env, (registry, east))
    ecr_east = stack.ecr(EAST)
    names = {(side, n): stack.repo(f"copy-{side}{n}", EAST) for side in "edspc" for n in range(runs)}
    for side in "dsp":
        for n in range(runs):
            ecr_east.create_repository(repositoryName=names[side, n])
    again = {side: stack.repo(f"copy-again-{side}", EAST) for side in "ed"}
    ecr_east.create_repository(repositoryName=again["d"])
    promoted = {(k, n): stack.repo(f"copy-promote{k}-{n}", EAST) for k in (1, 2) for n in range(runs)}
    for n in range(runs):
        stack.repositories.append((promoted[2, n], None))  # and in ca-west-1

    def forget() -> None:  # the docker chain's pull must fetch: nothing of the image in the engine
        listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                                text=True, env=env, check=True)  # fmt: skip
        names = [name for name in listed.stdout.split() if f"{stack.prefix}copy-" in name]
        if names:
            subprocess.run(["docker", "rmi", "--force", *names], capture_output=True, env=env, check=True)

    def keep() -> None:  # the chain's best case for a copy already done: the image still in the engine
        subprocess.run(["docker", "pull", "-q", ref], capture_output=True, env=env, check=True)

    def chain(dst: str, tagged: str = tag) -> list[Step]:
        src, remote = f"{registry}/{repo}:{tagged}", f"{east}/{dst}:{tagged}"
        login = [chain_login(registry), chain_login(east, EAST)]
        return [*login, ["docker", "pull", "-q", src], ["docker", "tag", src, remote], ["docker", "push", "-q", remote]]

    def ecrtool(*where: str, tagged: str = tag, create: bool = True) -> list[Step]:
        return [[ECRTOOL, "copy", f"{repo}:{tagged}", *where, *(["--create"] if create else []), "-q"]]

    fresh = Figure(
        "copy a fresh 5-layer 50 MB image to another region vs docker pull + tag + push",
        lambda n: ecrtool("--to-region", EAST, "--repo", names["e", n], tagged=f"{tag}-{n}"),
        lambda n: chain(names["d", n], f"{tag}-{n}"),
        0.5,
        before_chain=forget,
    )
    versus_skopeo = Figure(
        "copy a fresh 5-layer 50 MB image to another region vs skopeo copy (both into an existing repository)",
        lambda n: ecrtool("--to-region", EAST, "--repo", names["p", n], tagged=f"{tag}-{n}", create=False),
        lambda n: [[*skopeo, f"docker://{registry}/{repo}:{tag}-{n}", f"docker://{east}/{names['s', n]}:{tag}"]],
        1.0,
        chain_name="skopeo copy",
    )
    return [
        fresh,
        versus_skopeo,
        Figure(
            "for comparison: the same copy creating its repository (--create), vs skopeo copy into an existing one",
            lambda n: ecrtool("--to-region", EAST, "--repo", names["c", n], tagged=f"{tag}-{n}"),
            None,
            None,
            versus=versus_skopeo,
        ),
        Figure(
            "copy whose destination already holds every blob vs docker pull + tag + push (image in the engine)",
            lambda n: ecrtool("--to-region", EAST, "--repo", again["e"]),
            lambda n: chain(again["d"]),
            0.2,
            before_chain=keep,
        ),
        Figure(
            "promote to two regions (chain: ecrtool copy to one region)",
            lambda n: ecrtool("--to-region", EAST, "--to-region", "ca-west-1", "--repo", promoted[2, n]),
            lambda n: ecrtool("--to-region", EAST, "--repo", promoted[1, n]),
            1.3,
        ),
    ]


def copy_large(stack: Stack, env: dict[str, str], runs: int, tag: str, size_mb: int) -> Figure:
    """The skopeo comparison for a large image: run N copies image N, fresh to both sides, into
    repositories made beforehand, both through the registry's redirects to its layer bucket."""
    registry = stack.registry
    east = registry.replace(".ca-west-1.", f".{EAST}.")
    repo = stack.repo("large-src")
    for n in range(runs):
        push_fresh(stack, env, repo, f"{tag}-{n}", f"bench-large-{n}:1", size_mb)
    skopeo = skopeo_args(stack, env, (registry, east))
    ecr_east = stack.ecr(EAST)
    names = {(side, n): stack.repo(f"large-{side}{n}", EAST) for side in "es" for n in range(runs)}
    for name in names.values():
        ecr_east.create_repository(repositoryName=name)
    return Figure(
        f"copy a fresh 5-layer {size_mb} MB image to another region vs skopeo copy (both into an existing repository)",
        lambda n: [[ECRTOOL, "copy", f"{repo}:{tag}-{n}", "--to-region", EAST, "--repo", names["e", n], "-q"]],
        lambda n: [[*skopeo, f"docker://{registry}/{repo}:{tag}-{n}", f"docker://{east}/{names['s', n]}:{tag}"]],
        0.85,
        chain_name="skopeo copy",
    )


def paced_copies(stack: Stack, env: dict[str, str], runs: int, tag: str, count: int, rate: int) -> Figure:
    """COUNT copies at once (one ecrtool each) to two regions while the local ECR paces manifest PUTs to
    RATE a second per account and region, as ECR paces PutImage; the "chain" is the ideal pacing itself,
    COUNT puts a region at RATE a second (a `sleep`), so the ratio says how close to it the retries come."""
    src = stack.repo("paced-src")
    push_fresh(stack, env, src, tag, "bench-paced:1", 1)
    ecr = stack.ecr()
    manifest = ecr.batch_get_image(repositoryName=src, imageIds=[{"imageTag": tag}])["images"][0]["imageManifest"]
    tags = [f"{tag}-p{i}" for i in range(count)]
    for name in tags:
        ecr.put_image(repositoryName=src, imageManifest=manifest, imageTag=name)
    listed = Path(env["HOME"]) / "paced-tags"
    listed.write_text("\n".join(tags) + "\n")
    targets = {n: stack.repo(f"paced-dst{n}") for n in range(runs)}
    for name in targets.values():
        stack.repositories.append((name, EAST))
        for region in (None, EAST):
            stack.ecr(region).create_repository(repositoryName=name)

    def copies(n: int) -> list[Step]:
        copy = [ECRTOOL, "copy", f"{src}:{{}}", "--to-region", EAST, "--to-region", "ca-west-1", "--repo", targets[n]]
        return [["xargs", "-a", str(listed), "-P", str(count), "-I", "{}", *copy, "-j", "16", "-q"]]

    return Figure(
        f"{count} copies at once to two regions, manifest PUTs paced to {rate}/s a region (chain: the ideal pacing)",
        copies,
        lambda n: [["sleep", str(count / rate)]],
        1.5,
        chain_name="the ideal pacing",
    )


def push_fresh(stack: Stack, env: dict[str, str], repo: str, tag: str, image: str, size_mb: int) -> str:
    """A newly built 5-layer image pushed to REPO:TAG, then removed from the engine (layers and all)."""
    stack.image(image, "--layers", "5", "--size-mb", str(size_mb))
    run_steps([[ECRTOOL, "push", image, "--repo", repo, "--tag", tag, "--create", "-q"]], env)
    listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                            text=True, env=env, check=True)  # fmt: skip
    names = [name for name in listed.stdout.split() if name == image or f"/{repo}:" in name]
    subprocess.run(["docker", "rmi", "--force", *names], capture_output=True, env=env, check=True)
    return image


def skopeo_args(stack: Stack, env: dict[str, str], registries: tuple[str, ...]) -> list[str]:
    """skopeo copy's argv up to its references: an auth file (mode 0600, ECR tokens for REGISTRIES, written
    now, untimed, as ecrtool's token cache is warm too) and the stack's CA as a certificate directory."""
    home = Path(env["HOME"])
    certs = home / "skopeo-certs"
    certs.mkdir(exist_ok=True)
    shutil.copyfile(env["AWS_CA_BUNDLE"], certs / "ca.crt")
    auths = {}
    for registry in registries:
        region = registry.split(".")[3]
        token = stack.ecr(region).get_authorization_token()["authorizationData"][0]["authorizationToken"]
        auths[registry] = {"auth": token}  # base64 of AWS:PASSWORD, as a docker config holds it
    authfile = home / "skopeo-auth.json"
    fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": auths}, f)
    tool = shutil.which("skopeo")
    if tool is None:
        raise SystemExit("benchmarks: skopeo is missing: make bench installs it (apt-get install skopeo)")
    return [tool, "copy", "-q", "--authfile", str(authfile), "--src-cert-dir", str(certs), "--dest-cert-dir",
            str(certs)]  # fmt: skip


@dataclass
class Scale:
    what: str
    count: int
    sample: Sample
    calls: int | None  # the ECR API calls it made (None: not counted)


def copy_scale(stack: Stack, env: dict[str, str], sizes_mb: tuple[int, int], runs: int, tag: str) -> list[Scale]:
    """ecrtool copy of a 5-layer image of each size into another region, a fresh repository each run:
    its memory should not grow with the image (blobs are streamed, not held)."""
    found = []
    for size in sizes_mb:
        repo = stack.repo(f"copy-{size}mb")
        push_fresh(stack, env, repo, tag, f"bench-copy-{size}mb:1", size)
        samples = [
            run_steps(
                [
                    [
                        ECRTOOL,
                        "copy",
                        f"{repo}:{tag}",
                        "--to-region",
                        EAST,
                        "--create",
                        "-q",
                        "--repo",
                        stack.repo(f"copy-{size}mb-{n}", EAST),
                    ]
                ],
                env,
            )  # fmt: skip
            for n in range(runs)
        ]
        found.append(Scale("copy to another region", size, _median(samples), None))
    return found


def scale(stack: Stack, env: dict[str, str], sizes: tuple[int, int], runs: int) -> list[Scale]:
    """Listing every page, and deleting every tag, at two sizes."""
    found: list[Scale] = []
    for count in sizes:
        repo = stack.repo(f"scale-{count}")
        stack.seed(repo, count)
        for what, argv in (
            ("list (table)", [ECRTOOL, "images", repo]),
            ("list (JSON)", [ECRTOOL, "images", repo, "-o", "json"]),
        ):
            listed = counted(stack, "DescribeImages")
            samples = [run_steps([argv], env) for _ in range(runs)]
            found.append(Scale(what, count, _median(samples), listed() // runs))
        tags = [arg for i in range(count) for arg in ("--tag", f"t{i}")]
        deleted = counted(stack, "BatchDeleteImage")
        sample = run_steps([[ECRTOOL, "delete", repo, *tags, "-q"]], env)
        found.append(Scale("delete every tag", count, sample, deleted()))
    return found


def delete_thousand(stack: Stack, env: dict[str, str], runs: int) -> tuple[Figure, int]:
    """Deleting 1,000 tags: ecrtool in one command, against the aws CLI's ten batch-delete-image calls of
    100 (its limit). Each run deletes freshly seeded tags; the seeding is not timed."""
    figure = Figure("delete 1,000 tags (ecrtool: one command; chain: 10 aws calls)", lambda n: [], lambda n: [], None)
    calls = 0
    for n in range(runs):
        mine, theirs = stack.repo(f"del-e{n}"), stack.repo(f"del-c{n}")
        stack.seed(mine, 1000)
        stack.seed(theirs, 1000)
        batches = [[f"imageTag=t{i}" for i in range(start, start + 100)] for start in range(0, 1000, 100)]
        chain = [[AWS, "ecr", "batch-delete-image", "--repository-name", theirs, "--image-ids", *b] for b in batches]
        deleted = counted(stack, "BatchDeleteImage")
        figure.mine.append(
            run_steps([[ECRTOOL, "delete", mine, *[a for i in range(1000) for a in ("--tag", f"t{i}")], "-q"]], env)
        )
        calls = deleted()
        figure.theirs.append(run_steps(chain, env))
    return figure, calls


PRUNE_KEEP = 100


def chain_prune(repo: str) -> Argv:
    """What a shell script does to keep a repository's newest 100 images: describe-images sorted by push
    time, all but the last 100 digests, batch-delete-image 100 ids at a time (its limit). bash's own
    ru_maxrss and CPU from wait4 take in the pipeline's processes, which it waits for."""
    script = (
        "set -euo pipefail\n"
        '"$0" ecr describe-images --repository-name "$1" --output text'
        " --query 'sort_by(imageDetails, &imagePushedAt)[*].imageDigest'"
        f" | tr '\\t' '\\n' | head -n -{PRUNE_KEEP} | sed 's/^/imageDigest=/'"
        ' | xargs -n 100 "$0" ecr batch-delete-image --repository-name "$1" --image-ids > /dev/null\n'
    )
    return ["bash", "-c", script, AWS, repo]


def prunes(stack: Stack, env: dict[str, str], sizes: tuple[int, int], runs: int) -> tuple[Figure, list[Scale]]:
    """ecrtool prune --keep 100 --yes against the shell chain it replaces, over the larger size's images
    (each run on freshly seeded repositories, the seeding untimed); then prune alone at both sizes, its
    calls counted (DescribeImages pages + BatchDeleteImage calls: pages + ceil(n/100)) and its memory."""
    large = sizes[1]
    figure = Figure(f"prune {large:,} images to the newest {PRUNE_KEEP} vs aws describe-images + batch-delete-image"
                    " (a shell script)", lambda n: [], lambda n: [], None)  # fmt: skip

    def prune(repo: str) -> list[Step]:
        return [[ECRTOOL, "prune", repo, "--keep", str(PRUNE_KEEP), "--yes", "-o", "json"]]

    for n in range(runs):
        mine, theirs = stack.repo(f"prune-e{n}"), stack.repo(f"prune-c{n}")
        stack.seed(mine, large)
        stack.seed(theirs, large)
        figure.mine.append(run_steps(prune(mine), env))
        figure.theirs.append(run_steps([chain_prune(theirs)], env))
        for repo in (mine, theirs):
            left = stack.ecr().list_images(repositoryName=repo, maxResults=1000)["imageIds"]
            if len(left) != PRUNE_KEEP:
                raise Failed(f"prune left {len(left)} images in {repo}, not {PRUNE_KEEP}")
    scales = []
    counts = []
    for count in sizes:  # one run each: a run consumes its images
        repo = stack.repo(f"prune-{count}")
        stack.seed(repo, count)
        listed, deleted = counted(stack, "DescribeImages"), counted(stack, "BatchDeleteImage")
        sample = run_steps(prune(repo), env)
        pages, deletes = listed(), deleted()
        counts.append(f"{pages} DescribeImages + {deletes} BatchDeleteImage at {count:,}")
        scales.append(Scale(f"prune --keep {PRUNE_KEEP} --yes -o json", count, sample, pages + deletes))
    figure.name += f"; ecrtool's calls: {', '.join(counts)}"
    return figure, scales


def replication_backfill(stack: Stack, env: dict[str, str], count: int, runs: int) -> list[Figure]:
    """`ecrtool replication backfill` of COUNT images (one 1 MB base layer shared, a layer and a config each)
    to a region a rule names only now, against `skopeo copy` of each image into a repository made
    beforehand (what a copy loop does); then the backfill again, which finds every digest there and copies
    nothing. Every tag's digest is compared across the two regions; the ECR API calls and blobs are counted.
    The rule covers this run's repository alone, and the registry's configuration is put back afterwards."""
    import requests

    repo, theirs = stack.repo("backfill"), stack.repo("backfill-skopeo", EAST)
    stack.repositories.append((repo, EAST))
    stack.ecr().create_repository(repositoryName=repo)
    stack.ecr(EAST).create_repository(repositoryName=theirs)
    url, verify = f"https://{stack.registry}", env["AWS_CA_BUNDLE"]
    auth = ("AWS", str(stack.control("token", {})["password"]))

    def blob(data: bytes, media_type: str) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{url}/v2/{repo}/blobs/uploads/", auth=auth, verify=verify, timeout=60)
        location = started.headers["Location"]
        where = location if location.startswith("http") else url + location
        done = requests.put(where, params={"digest": digest}, data=data, auth=auth, verify=verify, timeout=60)
        done.raise_for_status()
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    oci = "application/vnd.oci.image.manifest.v1+json"
    base = blob(os.urandom(1 << 20), "application/vnd.oci.image.layer.v1.tar")
    for i in range(count):
        config = blob(json.dumps({"os": "linux", "architecture": "amd64", "bench": i}).encode(),
                      "application/vnd.oci.image.config.v1+json")  # fmt: skip
        layer = blob(f"layer {i}\n".encode() * 1000, "application/vnd.oci.image.layer.v1.tar")
        body = json.dumps({"schemaVersion": 2, "mediaType": oci, "config": config, "layers": [base, layer]})
        for _ in range(30):  # the stack paces manifest PUTs as ECR paces PutImage
            put = requests.put(f"{url}/v2/{repo}/manifests/t{i}", data=body, headers={"Content-Type": oci},
                               auth=auth, verify=verify, timeout=60)  # fmt: skip
            if put.status_code != 429:
                break
            time.sleep(1)
        put.raise_for_status()
    before = stack.ecr().describe_registry()["replicationConfiguration"]
    run_steps([[ECRTOOL, "replication", "set", "--to", EAST, "--filter", repo, "-q"]], env)
    east = stack.registry.replace(".ca-west-1.", f".{EAST}.")
    skopeo = skopeo_args(stack, env, (stack.registry, east))
    out = Path(env["HOME"]) / "backfill.json"
    chain = [[*skopeo, f"docker://{stack.registry}/{repo}:t{i}", f"docker://{east}/{theirs}:t{i}"]
             for i in range(count)]  # fmt: skip

    def fresh_tokens() -> None:  # the shared stack's tests may revoke its passwords between runs
        skopeo_args(stack, env, (stack.registry, east))

    try:
        fresh = Figure(f"replication backfill of {count} images to a new region vs skopeo copy of each",
                       lambda n: [[[ECRTOOL, "replication", "backfill", repo, "-o", "json"], ["tee", str(out)]]],
                       lambda n: chain, None, chain_name="skopeo copy", before_chain=fresh_tokens)  # fmt: skip
        stats = stack.control("stats")
        measure([fresh], 1, env)  # once: it fills the region
        calls = sum(stack.control("stats").values()) - sum(stats.values())
        report = json.loads(out.read_text())
        blobs = sum(int(item["blobs_copied"]) for item in report["images"])
        mine = {d["imageTags"][0]: d["imageDigest"]
                for d in stack.ecr().describe_images(repositoryName=repo)["imageDetails"]}  # fmt: skip
        there = {d["imageTags"][0]: d["imageDigest"]
                 for d in stack.ecr(EAST).describe_images(repositoryName=repo)["imageDetails"]}  # fmt: skip
        if mine != there or report["copied"] != count:
            raise Failed(f"backfill: {len(there)} of {count} digests equal in {EAST}, {report['copied']} copied")
        fresh.name += f"; every digest equal, {blobs} blobs copied, {calls} ECR API calls"
        again = Figure("the same backfill again (every digest there: 0 copied) vs skopeo copy of each again",
                       lambda n: [[ECRTOOL, "replication", "backfill", repo, "-q"]], lambda n: chain, None,
                       chain_name="skopeo copy", before_chain=fresh_tokens)  # fmt: skip
        measure([again], runs, env)
    finally:
        stack.ecr().put_replication_configuration(replicationConfiguration=before)
    return [fresh, again]


IN_USE_ECS, IN_USE_LAMBDA = 150, 50  # images task definitions use, and images Lambda functions use
RECENT = 100  # images pulled "just now": --not-pulled-for keeps them
# how workloads name the images: ECR's own name for the registry (a plain stack's loopback one is no image URI
# Lambda takes); ecrtool matches it to the repository by account and region
ECR_HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"


def chain_unpulled(repo: str, host: str, cutoff: str) -> Argv:
    """What a shell script does to delete what nobody pulled since CUTOFF (epoch seconds) and no workload
    uses: the images of every ACTIVE task definition (describe-task-definition each) and of every image
    function (get-function each), describe-images sorted by last pull (the push when never pulled), a jq
    filter against that list, xargs batch-delete-image 100 ids at a time."""
    script = (
        "set -euo pipefail\n"
        'used=$(mktemp); trap \'rm -f "$used"\' EXIT\n'
        'for td in $("$0" ecs list-task-definitions --status ACTIVE --query "taskDefinitionArns[]" --output text); do\n'
        '  "$0" ecs describe-task-definition --task-definition "$td" --output text'
        ' --query "taskDefinition.containerDefinitions[].image" | tr "\\t" "\\n"\n'
        'done > "$used"\n'
        "for fn in $(\"$0\" lambda list-functions --query \"Functions[?PackageType=='Image'].FunctionName\""
        " --output text); do\n"
        '  "$0" lambda get-function --function-name "$fn" --query Code.ImageUri --output text\n'
        'done >> "$used"\n'
        '"$0" ecr describe-images --repository-name "$1" --output json'
        ' | jq -r --argjson cutoff "$3" --arg at "$2/$1:" --rawfile used "$used"'
        " '($used | split(\"\\n\")) as $u | .imageDetails | sort_by(.lastRecordedPullTime // .imagePushedAt)[]"
        " | select((.lastRecordedPullTime // .imagePushedAt) < $cutoff)"
        " | select([(.imageTags // [])[] | $at + .] | any(. as $r | $u | index($r)) | not)"
        " | \"imageDigest=\" + .imageDigest'"
        ' | xargs -r -n 100 "$0" ecr batch-delete-image --repository-name "$1" --image-ids > /dev/null\n'
    )
    return ["bash", "-c", script, AWS, repo, host, cutoff]


_ECR_PRUNE_CALLS = ("DescribeImages", "BatchDeleteImage", "BatchGetImage", "ListPullTimeUpdateExclusions")


def unpulled(stack: Stack, env: dict[str, str], sizes: tuple[int, int]) -> tuple[Figure, list[Scale]]:
    """`prune --not-pulled-for 1s --protect-in-use --yes` over the larger size's images, IN_USE_ECS of them in
    ECS task definitions and IN_USE_LAMBDA in Lambda image functions, RECENT pulled just now, against the shell
    script it replaces (chain_unpulled), one run each on fresh repositories (the seeding untimed; seeded
    images are pushed the moment they are put, so --not-pulled-for 1s takes every image not pulled since);
    then ecrtool at the smaller size too for the growth of memory. ecrtool's own calls are counted exactly
    in one more run at the smaller size with --debug (botocore logs each request): no BatchGetImage may be
    among them; at the larger size the stack's counters give them (shared with whatever else runs there).
    Both sides must leave the same images."""
    import boto3

    small, large = sizes
    repos = {"mine": stack.repo("unpulled-e"), "theirs": stack.repo("unpulled-c"), "small": stack.repo("unpulled-s"),
             "count": stack.repo("unpulled-n")}  # fmt: skip
    counts = {"mine": large, "theirs": large, "small": small, "count": small}
    for key, repo in repos.items():
        stack.seed(repo, counts[key])
    session = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_REGION"])
    ecs, lam, iam = (session.client(s, verify=env.get("AWS_CA_BUNDLE"), endpoint_url=env.get("AWS_ENDPOINT_URL"))
                     for s in ("ecs", "lambda", "iam"))  # fmt: skip
    role_name = f"{stack.prefix}unpulled"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    definitions: list[str] = []
    functions: list[str] = []
    try:
        for i in range(IN_USE_ECS):  # one task definition, one container per repository, tag t<i>
            containers = [{"name": key, "image": f"{ECR_HOST}/{repo}:t{i}", "memory": 64}
                          for key, repo in repos.items()]  # fmt: skip
            made = ecs.register_task_definition(family=f"{stack.prefix}td{i}", containerDefinitions=containers)
            definitions.append(made["taskDefinition"]["taskDefinitionArn"])
        for key, repo in repos.items():
            for i in range(IN_USE_ECS, IN_USE_ECS + IN_USE_LAMBDA):
                name = f"{stack.prefix}{key}-fn{i}"
                lam.create_function(FunctionName=name, PackageType="Image", Role=role,
                                    Code={"ImageUri": f"{ECR_HOST}/{repo}:t{i}"})  # fmt: skip
                functions.append(name)
            digests = {item["imageTag"]: item["imageDigest"] for page in stack.ecr().get_paginator(
                "list_images").paginate(repositoryName=repo) for item in page["imageIds"] if "imageTag" in item}
            for i in range(IN_USE_ECS + IN_USE_LAMBDA, IN_USE_ECS + IN_USE_LAMBDA + RECENT):
                if f"t{i}" not in digests:
                    break  # a repository smaller than the images in use and pulled (--short's smaller size)
                # stamped an hour ahead: every run, minutes apart, sees it as pulled within --not-pulled-for 1s
                stack.control("image-times", {"repository": repo, "digest": digests[f"t{i}"],
                                              "pulled": time.time() + 3600})  # fmt: skip
        time.sleep(2)
        cutoff = f"{time.time():.3f}"  # the aws CLI prints ECR's times as epoch seconds
        time.sleep(1)

        def prune(repo: str) -> list[Step]:
            return [[ECRTOOL, "prune", repo, "--not-pulled-for", "1s", "--protect-in-use", "--yes", "-o", "json"]]

        figure = Figure(f"prune --not-pulled-for --protect-in-use, {large:,} images ({IN_USE_ECS} in ECS task "
                        f"definitions, {IN_USE_LAMBDA} in Lambda functions) vs describe-task-definition/get-function"
                        " + describe-images | jq + batch-delete-image (a shell script)", lambda n: [], lambda n: [],
                        0.4)  # fmt: skip
        scales = []
        calls: dict[str, str] = {}
        for key in ("count", "small", "mine", "theirs"):
            before = stack.control("stats")
            if key == "theirs":
                figure.theirs.append(run_steps([chain_unpulled(repos[key], ECR_HOST, cutoff)], env))
            elif key == "count":
                done = subprocess.run([*prune(repos[key])[0], "--debug"], capture_output=True, text=True, env=env,
                                      timeout=600)  # fmt: skip
                if done.returncode != 0:
                    raise Failed(f"prune --debug exited {done.returncode}: {done.stderr[-800:]}")
                made = {}
                for operation in re.findall(r"Making request for OperationModel\(name=(\w+)\)", done.stderr):
                    made[operation] = made.get(operation, 0) + 1
                if made.get("BatchGetImage"):
                    raise Failed(f"prune --not-pulled-for made {made['BatchGetImage']} BatchGetImage calls")
                calls[key] = ", ".join(f"{n} {action}" for action, n in sorted(made.items()))
            else:
                sample = run_steps(prune(repos[key]), env)
                if key == "mine":
                    figure.mine.append(sample)
                made = {action: n - before.get(action, 0) for action, n in stack.control("stats").items()
                        if action in _ECR_PRUNE_CALLS and n - before.get(action, 0) > 0}  # fmt: skip
                calls[key] = ", ".join(f"{n} {action}" for action, n in sorted(made.items()))
                scales.append(Scale("prune --not-pulled-for 1s --protect-in-use --yes", counts[key], sample,
                                    sum(made.values())))  # fmt: skip
            left = len({item["imageDigest"] for page in stack.ecr().get_paginator("list_images").paginate(
                repositoryName=repos[key]) for item in page["imageIds"]})  # fmt: skip
            kept = min(counts[key], IN_USE_ECS + IN_USE_LAMBDA + RECENT)  # --short's smaller size: all of them
            if left != kept:
                raise Failed(f"{key} left {left} images in {repos[key]}, not {kept}")
        figure.name += (f"; ecrtool's calls at {small:,} (its own log): {calls['count']}; ECR calls at {large:,} "
                        f"(the stack's counters): {calls['mine']}")  # fmt: skip
        return figure, scales
    finally:  # what is left of the workloads (a restart of the shared stack forgets moto's)
        for undo in [*(lambda name=name: lam.delete_function(FunctionName=name) for name in functions),
                     *(lambda arn=arn: ecs.deregister_task_definition(taskDefinition=arn) for arn in definitions),
                     lambda: iam.delete_role(RoleName=role_name)]:  # fmt: skip
            try:
                undo()
            except Exception:  # noqa: BLE001 - already gone
                pass


SYNC_TAGS = (20, 200)  # tags of the sync figures, and of its memory at scale


def plain_registry(home: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A docker-registry of no one's on loopback (plain http, no auth): a stand-in for Docker Hub."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{probe.getsockname()[1]}"
    config = home / "plain-registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
                      f"{home / 'plain-registry'}\nhttp:\n  addr: {host}\n")  # fmt: skip
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=2):
                return host, proc
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("benchmarks: docker-registry did not start") from None
            time.sleep(0.2)


def seed_plain(host: str, prefix: str, count: int) -> dict[str, list[str]]:
    """COUNT tags in two repositories of the plain registry (half each), every image a 1 MB base layer they
    all share and a small layer and a config of its own; the second repository's first tag an index of two
    platforms. Returns each repository's tags."""
    import requests

    url = f"http://{host}"
    session = requests.Session()

    def blob(repo: str, data: bytes, media_type: str) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if session.head(f"{url}/v2/{repo}/blobs/{digest}", timeout=30).status_code != 200:
            started = session.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=30)
            location = started.headers["Location"]
            where = location if location.startswith("http") else url + location
            session.put(where, params={"digest": digest}, data=data, timeout=60).raise_for_status()
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def put(repo: str, tag: str, doc: dict[str, object]) -> dict[str, object]:
        data = json.dumps(doc).encode()
        media_type = str(doc["mediaType"])
        session.put(f"{url}/v2/{repo}/manifests/{tag}", data=data, headers={"Content-Type": media_type},
                    timeout=30).raise_for_status()  # fmt: skip
        return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}

    oci, layer_type = "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.layer.v1.tar"
    base = os.urandom(1 << 20)
    repos = {f"{prefix}app": [f"1.{i}.0" for i in range(count // 2)],
             f"{prefix}tool": [f"0.{i}" for i in range(count - count // 2)]}  # fmt: skip

    def image(repo: str, tag: str, arch: str = "amd64") -> dict[str, object]:
        config = blob(repo, json.dumps({"os": "linux", "architecture": arch, "tag": tag}).encode(),
                      "application/vnd.oci.image.config.v1+json")  # fmt: skip
        own = blob(repo, f"{repo} {tag} {arch}\n".encode() * 2000, layer_type)
        return put(repo, f"{tag}-{arch}" if arch != "amd64" else tag,
                   {"schemaVersion": 2, "mediaType": oci, "config": config,
                    "layers": [blob(repo, base, layer_type), own]})  # fmt: skip

    for repo, tags in repos.items():
        for n, tag in enumerate(tags):
            if repo.endswith("tool") and n == 0:  # the multi-platform one: children untagged in the index
                children = []
                for arch in ("amd64", "arm64"):
                    child = image(repo, f"{tag}-child", arch)
                    children.append({**child, "platform": {"os": "linux", "architecture": arch}})
                put(repo, tag, {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                "manifests": children})  # fmt: skip
            else:
                image(repo, tag)
    # the index's children went in under tags of their own (a registry keeps a manifest only by a tag or
    # an index naming it): the sync selects the versions alone, as the skopeo side lists them
    return repos


def syncs(stack: Stack, env: dict[str, str], runs: int) -> tuple[list[Figure], list[Scale]]:
    """`ecrtool sync` of 20 tags of 2 repositories (shared base layer, one index) from a plain registry into
    ECR (us-east-1) against `skopeo sync --all` of the same tags into repositories made beforehand; each
    run into destinations of its own. Then both again onto run 0's (everything there: no blob moves); then
    ecrtool alone at 20 and 200 tags, fresh, for its memory."""
    home = Path(env["HOME"])
    host, proc = plain_registry(home)
    east = stack.registry.replace(".ca-west-1.", f".{EAST}.")
    skopeo = skopeo_args(stack, env, (east,))
    authfile, certs = skopeo[skopeo.index("--authfile") + 1], skopeo[skopeo.index("--dest-cert-dir") + 1]
    try:
        sets = {count: seed_plain(host, f"s{count}/", count) for count in SYNC_TAGS}

        def spec(count: int, dest: str, name: str) -> str:
            path = home / f"{name}.yaml"
            lines = ["images:"]
            for repo, tags in sets[count].items():
                pattern = "|".join(re.escape(tag) for tag in tags)
                lines += [f"  - from: {host}/{repo}", f"    to: {dest}/{repo.rsplit('/', 1)[1]}",
                          f"    tags: ['{pattern}']"]  # fmt: skip
            path.write_text("\n".join(lines) + "\n")
            return str(path)

        skopeo_spec = home / "skopeo-sync.yaml"
        skopeo_spec.write_text(json.dumps({host: {"tls-verify": False, "images": sets[SYNC_TAGS[0]]}}))
        ecr_east = stack.ecr(EAST)
        dests = {(side, n): f"{stack.prefix}sync-{side}{n}" for side in "es" for n in range(runs + 1)}
        for (side, _), dest in dests.items():
            for repo in sets[SYNC_TAGS[0]]:
                name = f"{dest}/{repo.rsplit('/', 1)[1]}"
                stack.repositories.append((name, EAST))
                if side == "s":
                    ecr_east.create_repository(repositoryName=name)

        def mine(n: int) -> list[Step]:
            dest = f"{east}/{dests['e', n]}"
            return [[ECRTOOL, "sync", spec(SYNC_TAGS[0], dest, f"sync-e{n}"), "-q"]]

        def theirs(n: int) -> list[Step]:
            return [["skopeo", "sync", "--src", "yaml", "--dest", "docker", "--all", "--preserve-digests",
                     "--dest-authfile", authfile, "--dest-cert-dir", certs, str(skopeo_spec),
                     f"{east}/{dests['s', n]}"]]  # fmt: skip

        def fresh_tokens() -> None:  # the shared stack's tests may revoke its passwords between runs
            skopeo_args(stack, env, (east,))

        fresh = Figure(f"sync {SYNC_TAGS[0]} tags of 2 repositories (shared base layer, one index) from a plain "
                       "registry into ECR vs skopeo sync --all (repositories made beforehand)", mine, theirs, 0.5,
                       chain_name="skopeo sync", before_chain=fresh_tokens)  # fmt: skip
        measure([fresh], runs + 1, env)
        again = Figure("the same sync again (every digest there) vs skopeo sync again", lambda n: mine(0),
                       lambda n: theirs(0), 0.2, chain_name="skopeo sync", before_chain=fresh_tokens,
                       known_miss="Python's start-up is most of the re-run (issue 21)")  # fmt: skip
        measure([again], runs, env)
        report_path = home / "sync-again.json"
        with report_path.open("w") as out:
            subprocess.run([ECRTOOL, "sync", spec(SYNC_TAGS[0], f"{east}/{dests['e', 0]}", "sync-e0"), "-o", "json"],
                           stdout=out, env=env, check=True)  # fmt: skip
        doc = json.loads(report_path.read_text())
        if doc["copied"] or doc["blobs_copied"] or doc["skipped"] != SYNC_TAGS[0]:
            raise Failed(f"the sync again copied {doc['copied']} images, {doc['blobs_copied']} blobs")
        again.name += f"; ecrtool: {doc['skipped']} skipped, 0 blobs uploaded"
        scales = []
        for count in SYNC_TAGS:
            dest = f"{stack.prefix}sync-scale{count}"
            for repo in sets[count]:
                stack.repositories.append((f"{dest}/{repo.rsplit('/', 1)[1]}", EAST))
            sample = run_steps([[ECRTOOL, "sync", spec(count, f"{east}/{dest}", f"sync-{count}"), "-q"]], env)
            scales.append(Scale("sync from a plain registry, fresh", count, sample, None))
        return [fresh, again], scales
    finally:
        proc.kill()
        proc.wait(timeout=10)


def counted(stack: Stack, action: str) -> Callable[[], int]:
    """How many ACTION calls the stack answers from now on: a difference of its counters, never reset, as
    the stack may be another's, shared with other runs."""
    before = stack.control("stats").get(action, 0)
    return lambda: stack.control("stats").get(action, 0) - before


def _median(samples: list[Sample]) -> Sample:
    ordered = sorted(samples, key=lambda s: s.seconds)
    middle = ordered[len(ordered) // 2]
    return Sample(middle.seconds, max(s.rss_kb for s in samples), statistics.median(s.cpu for s in samples))


# -- report ----------------------------------------------------------------------------------------


def verdict(value: float | None, target: float | None, short: bool) -> str:
    if value is None or target is None:
        return ""
    if value <= target:
        return "met"
    return "MISSED" if not short or value > 2 * target else "missed (within 2x)"


def report(
    figures: list[Figure],
    scales: list[Scale],
    sizes: tuple[int, int],
    short: bool,
    copies: Sequence[Scale] = (),
    copy_sizes: tuple[int, int] = (0, 0),
    synced: Sequence[Scale] = (),
) -> tuple[str, bool]:
    lines = [
        "| figure | ecrtool | chain | ratio | target | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    failed = False
    for f in figures:
        status = verdict(f.ratio, f.target, short)
        if f.known_miss and status.startswith("MISSED"):
            status += f" (known: {f.known_miss})"  # printed every run, not failing CI's short run
        else:
            failed |= status.startswith("MISSED")
        extra = ""
        if f.absolute_ms and not short:
            ok = f.ms <= f.absolute_ms
            failed |= not ok
            extra = f"; {f.ms:.0f} ms {'≤' if ok else '>'} {f.absolute_ms:.0f} ms {'met' if ok else 'MISSED'}"
        chain = f"{f.chain_ms:.0f} ms" if f.chain_ms is not None else "-"
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "-"
        target = f"≤ {f.target}×" if f.target is not None else "-"
        if f.versus is not None:
            chain = f"({chain}: {f.versus.chain_name})"
        lines.append(f"| {f.name} | {f.ms:.0f} ms | {chain} | {ratio} | {target} | {status}{extra} |")
    groups = ((scales, sizes, " images"), (copies, copy_sizes, " MB image"), (synced, SYNC_TAGS, " tags"))
    for found, (small, large), unit in groups:
        if not found:
            continue
        lines += [
            "",
            f"| at scale | {small}{unit} | {large}{unit} | ecrtool CPU growth (≤ {large // small}×) "
            "| peak RSS growth (≤ 1.10×) | wall-time growth |",
            "|---|---|---|---|---|---:|",
        ]

        def cell(s: Scale) -> str:
            calls = "" if s.calls is None else f", {s.calls} calls"
            return (
                f"{s.sample.seconds * 1000:.0f} ms wall, {s.sample.cpu * 1000:.0f} ms CPU, "
                f"{s.sample.rss_kb / 1024:.1f} MB{calls}"
            )

        for what in dict.fromkeys(s.what for s in found):
            a, b = (next(s for s in found if s.what == what and s.count == n) for n in (small, large))
            growth, memory = b.sample.cpu / a.sample.cpu, b.sample.rss_kb / a.sample.rss_kb
            time_ok = verdict(growth, large / small, short)
            memory_ok = verdict(memory, 1.10, short)
            failed |= time_ok.startswith("MISSED") or memory_ok.startswith("MISSED")
            lines.append(
                f"| {what} | {cell(a)} | {cell(b)} | {growth:.2f}× {time_ok} | {memory:.2f}× {memory_ok} "
                f"| {b.sample.seconds / a.sample.seconds:.1f}× |"
            )
    return "\n".join(lines), failed


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    client = subprocess.run(["docker", "--version"], capture_output=True, text=True).stdout.split(",")[0]
    engine = subprocess.run(["dockerd", "--version"], capture_output=True, text=True).stdout.split(",")[0]
    docker = f"{client.replace('Docker version', 'docker CLI')}, {engine.replace('Docker version', 'dockerd')}"
    aws = subprocess.run([AWS, "--version"], capture_output=True, text=True)
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {mem / 1024 / 1024:.0f} GB RAM; Linux {platform.release()}; "
        f"Python {platform.python_version()}; {docker}; {(aws.stdout or aws.stderr).split()[0]}"
    )


def write(path: Path, table: str, mode: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{START}\nMeasured {stamp} on {machine()} ({mode}).\n\n{table}\n{END}"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    path.write_text(head + block + rest.partition(END)[2])


# what --only can pick: the start-up and login figures, pushes and retags, copies, listing at scale, prune at scale
GROUPS = ("login", "push", "copy", "scale", "prune", "replication", "unpulled", "sync")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI mode: fewer runs, smaller listings")
    parser.add_argument("--runs", type=int, help="interleaved runs per figure (default 7; --short 3)")
    parser.add_argument("--write", type=Path, metavar="FILE", help="record the figures in FILE (BENCHMARKS.md)")
    parser.add_argument(
        "--only", action="append", choices=GROUPS, help="only these groups of figures (repeat); not with --write"
    )
    args = parser.parse_args(argv)
    if args.only and args.write:
        parser.error("--only measures part of the figures: it cannot --write the whole record")
    groups = set(args.only or GROUPS)
    runs = args.runs or (3 if args.short else 7)
    sizes = (200, 2000) if args.short else (500, 5000)
    copy_sizes = (50, 200) if args.short else (50, 500)
    for tool in (ECRTOOL, AWS):
        if not Path(tool).exists():
            raise SystemExit(f"benchmarks: {tool} is missing: pip install -e '.[bench]' (make bench does)")
    if shutil.which("docker") is None:
        raise SystemExit("benchmarks: the docker CLI is missing: scripts/local-ecr up installs it")

    stack = Stack()
    home = Path(tempfile.mkdtemp(prefix="ecrtool-bench-home-"))
    try:
        env = command_env(stack, home)
        run_steps([[ECRTOOL, "create", stack.repo("bench")]], env)
        stamp = time.strftime("%H%M%S")
        figures: list[Figure] = []
        if "login" in groups:
            figures += startup_and_login(stack)
            if not args.short:
                figures += floors(next(f for f in figures if f.name == "login, cached token"))
            figures += on_instance(stack, instance_env(stack, home / "instance"))
        if "push" in groups:
            figures += pushes(stack, runs + 1, tag=stamp) + retags(stack, env, stamp)
        if "copy" in groups:
            figures += copies(stack, env, runs + 1, stamp)
        measure(figures, 1, env)  # warm-up: bytecode, page cache, the token cache; not counted
        for f in figures:
            f.mine.clear()
            f.theirs.clear()
        print(f"benchmarks: {runs} interleaved runs per figure...", file=sys.stderr)
        # the warm-up used run 0's fresh images; the counted runs take the others
        for f in figures:
            ecrtool, chain = f.ecrtool, f.chain
            f.ecrtool = lambda n, step=ecrtool: step(n + 1)  # type: ignore[misc]
            f.chain = (lambda n, step=chain: step(n + 1)) if chain else None  # type: ignore[misc]
        measure(figures, runs, env)
        scales: list[Scale] = []
        copied: list[Scale] = []
        syncing: list[Scale] = []
        if "scale" in groups:
            print("benchmarks: listing and deleting at scale...", file=sys.stderr)
            deletion, calls = delete_thousand(stack, env, 1 if args.short else 5)
            deletion.name += f"; ecrtool made {calls} calls"
            figures.append(deletion)
            scales = scale(stack, env, sizes, runs)
        if "copy" in groups:
            print("benchmarks: copying a small and a large image...", file=sys.stderr)
            copied = copy_scale(stack, env, copy_sizes, runs, stamp)
            paced_runs = runs
            paced = paced_copies(stack, env, paced_runs, stamp, 20, 2)
            stack.control("throttle", {"rate": 2})
            try:
                measure([paced], paced_runs, env)
            finally:
                stack.control("throttle", {"reset": True})
            figures.append(paced)
            if not args.short:  # 500 MB a run on each side: the full record only
                large_runs = 3
                large = copy_large(stack, env, large_runs + 1, stamp, 500)
                measure([large], 1, env)  # warm-up on image 0, not counted
                large.mine.clear()
                large.theirs.clear()
                mine, theirs = large.ecrtool, large.chain
                large.ecrtool = lambda n, step=mine: step(n + 1)  # type: ignore[misc]
                large.chain = lambda n, step=theirs: step(n + 1)  # type: ignore[misc]
                measure([large], large_runs, env)
                figures.append(large)
        if "replication" in groups:
            print("benchmarks: replication backfill...", file=sys.stderr)
            figures += replication_backfill(stack, env, 50, runs)
        if "sync" in groups:
            print("benchmarks: sync from a plain registry...", file=sys.stderr)
            synced, syncing = syncs(stack, env, runs)
            figures += synced
        if "prune" in groups:
            print("benchmarks: pruning at scale...", file=sys.stderr)
            pruned, pruning = prunes(stack, env, sizes, runs if args.runs else (1 if args.short else 3))
            figures.append(pruned)
            scales += pruning
        if "unpulled" in groups:
            print("benchmarks: prune --not-pulled-for with images in use...", file=sys.stderr)
            idle, idling = unpulled(stack, env, sizes)
            figures.append(idle)
            scales += idling
    finally:
        stack.down()
        shutil.rmtree(home, ignore_errors=True)

    table, failed = report(figures, scales, sizes, args.short, copied, copy_sizes, syncing)
    print(table)
    if args.write:
        write(args.write, table, f"--short, {runs} runs" if args.short else f"median of {runs} interleaved runs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
