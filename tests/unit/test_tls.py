"""The https trust store is built once per CA file, and may be started early on a thread of its own."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from ecrtool.model import tls


def _bundle(tmp_path: Path) -> str:
    copied = tmp_path / "bundle.pem"  # a path of its own: the module keeps one context per file and process
    shutil.copyfile(tls.default_ca_bundle(), copied)
    return str(copied)


def _prepared() -> None:
    for thread in threading.enumerate():
        if thread.name == "tls-context":
            thread.join()


def test_a_prepared_context_is_the_one_a_request_gets(tmp_path: Path) -> None:
    cafile = _bundle(tmp_path)
    tls.prepare(cafile)
    _prepared()
    Path(cafile).unlink()  # built already: the request does not read the bundle again
    first = tls.context(cafile)
    assert first.get_ca_certs()  # certifi's authorities, loaded
    assert tls.context(cafile) is first


def test_requests_racing_the_preparation_share_one_context(tmp_path: Path) -> None:
    cafile = _bundle(tmp_path)
    tls.prepare(cafile)
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(tls.context(cafile))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(context) for context in found}) == 1


def test_a_missing_bundle_is_reported_by_the_request_not_the_preparation(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nowhere.pem")
    tls.prepare(missing)
    with pytest.raises(FileNotFoundError):
        tls.context(missing)
    _prepared()
    assert capfd.readouterr().err == ""  # no traceback from the preparing thread
