"""What the instance's pip installs: --install checked, or this ecrtool's own install record (PEP 610)."""

from __future__ import annotations

import json

import pytest

from ecrtool.model.errors import InvalidInput
from ecrtool.model.install_source import RECORD, check_install, from_record, recorded

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class FakeDistribution:
    """importlib.metadata's Distribution as from_record reads it: one file, direct_url.json, or none."""

    def __init__(self, record: dict[str, object] | str | None) -> None:
        self.record = record

    def read_text(self, filename: str) -> str | None:
        assert filename == "direct_url.json"
        if self.record is None or isinstance(self.record, str):
            return self.record
        return json.dumps(self.record)


def test_a_vcs_record_names_its_url_at_its_commit() -> None:
    dist = FakeDistribution(
        {
            "url": "https://github.com/example/ecrtool.git",
            "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "main"},
        }
    )
    source = from_record(dist)
    assert source.spec == f"git+https://github.com/example/ecrtool.git@{COMMIT}"
    assert source.origin == RECORD and source.index_url is None


def test_a_vcs_record_in_a_subdirectory() -> None:
    dist = FakeDistribution(
        {
            "url": "https://git.example.com/tools.git",
            "vcs_info": {"vcs": "git", "commit_id": COMMIT},
            "subdirectory": "ecrtool",
        }  # fmt: skip
    )
    assert from_record(dist).spec == f"git+https://git.example.com/tools.git@{COMMIT}#subdirectory=ecrtool"


@pytest.mark.parametrize(
    "archive_info",
    [{"hashes": {"sha256": SHA}}, {"hash": f"sha256={SHA}"}, {"hash": "md5=00", "hashes": {"sha256": SHA}}],
)
def test_an_archive_record_names_its_url_and_hash(archive_info: dict[str, object]) -> None:
    url = "https://files.example.com/ecrtool-1.0-py3-none-any.whl"
    source = from_record(FakeDistribution({"url": url, "archive_info": archive_info}))
    assert source.spec == f"{url}#sha256={SHA}"


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"url": "file:///work/ecrtool", "dir_info": {"editable": True}}, "an editable checkout"),
        ({"url": "file:///work/ecrtool", "dir_info": {}}, "a local path an instance cannot reach"),
        ({"url": "file:///tmp/ecrtool-1.0.whl", "archive_info": {"hashes": {"sha256": SHA}}}, "a local path"),
        ({"url": "https://x.example/e.whl", "archive_info": {}}, "no sha256 to check it by"),
        ({"url": "ssh://git@github.com/e/e.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}, "cannot install"),
        ({"url": "https://hg.example/e", "vcs_info": {"vcs": "hg", "commit_id": COMMIT}}, "cannot install"),
        (
            {"url": "https://user:token@git.example/e.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
            "holds credentials",
        ),  # fmt: skip
        ({"url": "https://x.example/e"}, "neither a commit nor an archive"),
        ("not json", "cannot be read"),
        ({"no": "url"}, "cannot be read"),
        (None, "no PEP 610 install record"),
    ],
)
def test_what_an_instance_cannot_reach_is_refused(record: dict[str, object] | str | None, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as raised:
        from_record(FakeDistribution(record))
    assert "--install" in str(raised.value)


def test_no_distribution_at_all() -> None:
    with pytest.raises(InvalidInput, match="not an installed package.*--install"):
        from_record(None)


def test_this_checkout_is_editable_so_it_has_to_name_one() -> None:
    # the test environment installs the checkout with `pip install -e`
    with pytest.raises(InvalidInput, match="editable checkout.*pass --install"):
        recorded()


@pytest.mark.parametrize(
    ("spec", "index_url"),
    [
        (f"https://files.example.com/ecrtool-1.0-py3-none-any.whl#sha256={SHA}", None),
        (f"http://127.0.0.1:8000/ecrtool-1.0.tar.gz#sha256={SHA}", None),
        (f"file:///opt/wheels/ecrtool-1.0-py3-none-any.whl#sha256={SHA}", None),
        (f"git+https://github.com/example/ecrtool.git@{COMMIT}", None),
        (f"git+https://github.com/example/tools@{COMMIT}#subdirectory=ecrtool", None),
        ("ecrtool==1.0", "https://pypi.example.com/simple"),
        ("ecrtool[extra]>=1.0,<2", "https://pypi.example.com/simple"),
        ("ecrtool", "http://127.0.0.1:3141/root/dev/+simple/"),
    ],
)
def test_install_forms_taken(spec: str, index_url: str | None) -> None:
    source = check_install(spec, index_url)
    assert (source.spec, source.index_url, source.origin) == (spec, index_url, "--install")


@pytest.mark.parametrize(
    ("spec", "index_url", "says"),
    [
        ("ecrtool==1.0", None, "names no index"),
        ("ecrtool; reboot", "https://i.example/simple", "spaces and control characters"),
        ("ecrtool\n", "https://i.example/simple", "spaces and control characters"),
        ("-r/etc/passwd", "https://i.example/simple", "not a requirement"),
        ("https://x.example/e.whl", None, "add the file's hash"),
        ("https://x.example/e.whl#sha256=abc", None, "add the file's hash"),
        ("https://x.example/e.whl#md5=" + "a" * 32, None, "add the file's hash"),
        (f"https://u:p@x.example/e.whl#sha256={SHA}", None, "holds credentials"),
        ("git+https://github.com/e/e.git", None, "pin a commit"),
        ("git+https://github.com/e/e.git@main", None, "pin a commit"),
        (f"git+ssh://git@github.com/e/e.git@{COMMIT}", None, "holds credentials"),
        (f"git+http://github.com/e/e.git@{COMMIT}", None, "git\\+https://"),
        (f"git+https://github.com/e/e.git@{COMMIT}#egg=x", None, "subdirectory"),
        (f"ftp://x.example/e.whl#sha256={SHA}", None, "give a wheel URL"),
        ("ecrtool==1.0", "ftp://i.example/simple", "--index-url"),
        ("ecrtool==1.0", "https://u:p@i.example/simple", "holds credentials"),
        ("ecrtool==1.0", "https://i.example/simple\n", "--index-url"),
        ("", None, "--install"),
    ],
)
def test_install_forms_refused(spec: str, index_url: str | None, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        check_install(spec, index_url)
