"""``local-ecr index REPO:TAG [--oci|--docker]``: a two-platform image index, put straight into the registry.

Nothing can build a multi-platform image here (no buildx, no Docker Hub), so this writes one by hand
through the registry's HTTP API, as ``docker buildx build --platform linux/amd64,linux/arm64 --push``
would: each child's config and layer blobs, each child manifest by digest, then the index under the
tag. The linux/amd64 child holds /bin/busybox (busybox-static) and echoes a line, so the engine here
can run it; the linux/arm64 child holds a text file. The bridge then records the index, and its
children as untagged images, in the ECR API, as ECR shows a pushed index.

Prints the index's digest and media type and its children's, as JSON.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .registry import Registry
from .state import ACCOUNT_ID, REGION, State

BUSYBOX = Path("/bin/busybox")
AMD64_OUTPUT = "hello from the linux/amd64 child of a local-ecr image index"
_REPO = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Formats:
    """The media types of one image format (OCI, or Docker's v2 schema 2)."""

    index: str
    manifest: str
    config: str
    layer: str


OCI = Formats(
    index="application/vnd.oci.image.index.v1+json",
    manifest="application/vnd.oci.image.manifest.v1+json",
    config="application/vnd.oci.image.config.v1+json",
    layer="application/vnd.oci.image.layer.v1.tar+gzip",
)
DOCKER = Formats(
    index="application/vnd.docker.distribution.manifest.list.v2+json",
    manifest="application/vnd.docker.distribution.manifest.v2+json",
    config="application/vnd.docker.container.image.v1+json",
    layer="application/vnd.docker.image.rootfs.diff.tar.gzip",
)


@dataclass(frozen=True)
class Child:
    """One platform's image: what goes in its layer and what its config says to run."""

    architecture: str
    variant: str | None
    files: dict[str, tuple[bytes, int]]  # path in the image -> (content, mode)
    cmd: list[str]

    @property
    def platform(self) -> dict[str, str]:
        found = {"architecture": self.architecture, "os": "linux"}
        if self.variant:
            found["variant"] = self.variant
        return found

    @property
    def name(self) -> str:
        return "/".join(["linux", self.architecture, *([self.variant] if self.variant else [])])


def children() -> list[Child]:
    busybox = BUSYBOX.read_bytes()
    return [
        Child("amd64", None, {"bin/busybox": (busybox, 0o755)}, ["/bin/busybox", "echo", AMD64_OUTPUT]),
        Child("arm64", "v8", {"platform.txt": (b"linux/arm64\n", 0o644)}, ["/bin/cat", "/platform.txt"]),
    ]


def layer_tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    """An uncompressed layer, byte for byte the same on every run (fixed owners and times)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folders = sorted({str(Path(path).parent) for path in files} - {"."})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, (content, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(doc: Any) -> bytes:
    return json.dumps(doc, indent=2).encode()


def push_child(registry: Registry, repo: str, child: Child, formats: Formats) -> dict[str, Any]:
    """Upload one child's blobs and manifest (by digest); returns its entry in the index."""
    tar = layer_tar(child.files)
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    config = _json(
        {
            **child.platform,
            "config": {"Cmd": child.cmd},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(tar)]},
            "history": [{"created_by": "scripts/local-ecr index"}],
        }
    )
    registry.upload_blob(repo, config)
    registry.upload_blob(repo, layer)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": formats.manifest,
            "config": {"mediaType": formats.config, "digest": _sha256(config), "size": len(config)},
            "layers": [{"mediaType": formats.layer, "digest": _sha256(layer), "size": len(layer)}],
        }
    )
    digest = registry.put_manifest(repo, _sha256(manifest), manifest, formats.manifest) or _sha256(manifest)
    return {"mediaType": formats.manifest, "digest": digest, "size": len(manifest), "platform": child.platform}


def push_index(registry: Registry, repo: str, tag: str, formats: Formats) -> dict[str, Any]:
    """Every child, then the index under TAG; returns what the command prints."""
    entries = [(child, push_child(registry, repo, child, formats)) for child in children()]
    index = _json({"schemaVersion": 2, "mediaType": formats.index, "manifests": [entry for _, entry in entries]})
    digest = registry.put_manifest(repo, tag, index, formats.index) or _sha256(index)
    return {
        "reference": f"{repo}:{tag}",
        "digest": digest,
        "mediaType": formats.index,
        "manifests": [
            {"platform": child.name, "digest": entry["digest"], "mediaType": entry["mediaType"]}
            for child, entry in entries
        ],
    }


def _repository_exists(state: State, repo: str) -> bool:
    import boto3  # the bridge's own dependency; imported late so `--help` stays quick

    ecr = boto3.client(
        "ecr",
        endpoint_url=f"http://127.0.0.1:{state.ports().api}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        ecr.describe_repositories(repositoryNames=[repo])
    except ecr.exceptions.RepositoryNotFoundException:
        return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=Path, required=True, help="the state folder")
    parser.add_argument("reference", metavar="REPO:TAG", help="where to put the index (TAG defaults to latest)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--oci", dest="formats", action="store_const", const=OCI, help="an OCI image index (default)")
    kind.add_argument("--docker", dest="formats", action="store_const", const=DOCKER, help="a Docker manifest list")
    parser.set_defaults(formats=OCI)


def run(args: argparse.Namespace) -> int:
    repo, _, tag = str(args.reference).partition(":")
    tag = tag or "latest"
    if not _REPO.match(repo) or not _TAG.match(tag):
        print(f"local-ecr: {args.reference!r} is not REPO:TAG (for example trees:multi)", file=sys.stderr)
        return 2
    if not BUSYBOX.is_file():
        print(f"local-ecr: {BUSYBOX} is missing: scripts/local-ecr up installs busybox-static", file=sys.stderr)
        return 1
    state = State(args.state)
    if not _repository_exists(state, repo):
        print(
            f"local-ecr: repository {repo!r} is not in the ECR API: create it first (ecrtool create {repo})",
            file=sys.stderr,
        )
        return 1
    # the first account's registry in the first region, under the docker-registry's own name for it
    registry = Registry(state.ports().internal, state.password(), state.registry_data)
    done = push_index(registry, f"{ACCOUNT_ID}/{REGION}/{repo}", tag, args.formats)
    done["reference"] = f"{repo}:{tag}"
    print(json.dumps(done, indent=2))
    return 0
