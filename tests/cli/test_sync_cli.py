"""`ecrtool sync` on the command line: a spec that is wrong, or no spec at all, is one line and exit 2,
before anything is asked of a registry or AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_a_bad_spec_is_one_line_and_exit_2(invoke: Any, tmp_path: Path) -> None:
    spec = tmp_path / "mirror.yaml"
    spec.write_text("images:\n  - from: docker.io/library/nginx\n    semver: '>=one'\n")
    result = invoke("sync", str(spec))
    assert result.exit_code == 2
    assert result.stderr == (
        f"ecrtool: error: sync spec {spec}:3: images[0].semver: not a semver range: '>=one' is no comparator"
        " (>=1.25, <2, ^1.2, ~1.2.3, 1.x)\n"
    )


def test_a_missing_spec_and_a_destination_that_is_no_ecr_repository(invoke: Any, tmp_path: Path) -> None:
    missing = invoke("sync", str(tmp_path / "none.yaml"))
    assert missing.exit_code == 2 and "cannot read the sync spec" in missing.stderr
    spec = tmp_path / "mirror.yaml"
    spec.write_text("images:\n  - from: docker.io/library/nginx\n    to: mirror/nginx:1\n    tags: ['.*']\n")
    result = invoke("sync", str(spec), "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ecrtool: error: sync spec {spec}:2: images[0].to: 'mirror/nginx:1' is no ECR")


def test_jobs_and_rate_are_checked(invoke: Any, tmp_path: Path) -> None:
    spec = tmp_path / "mirror.yaml"
    spec.write_text("images:\n  - from: docker.io/library/nginx\n    tags: ['.*']\n")
    assert "invalid -j 0" in invoke("sync", str(spec), "-j", "0").stderr
    assert "invalid --rate -1.0" in invoke("sync", str(spec), "--rate", "-1").stderr
