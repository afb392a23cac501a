"""`ecrtool run`'s options: docker run's rules, checked before Docker is asked anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecrtool.model.containers import (
    Mount,
    PortBinding,
    RestartPolicy,
    build_spec,
    parse_env,
    parse_mount,
    parse_port,
    parse_restart,
    read_env_file,
    validate_name,
)
from ecrtool.model.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "binding", "docker"),
    [
        ("8080:80", PortBinding(8080, 80), "8080:80/tcp"),
        ("127.0.0.1:8080:80", PortBinding(8080, 80, "tcp", "127.0.0.1"), "127.0.0.1:8080:80/tcp"),
        ("53:53/udp", PortBinding(53, 53, "udp"), "53:53/udp"),
    ],
)
def test_ports(text: str, binding: PortBinding, docker: str) -> None:
    assert parse_port(text) == binding
    assert binding.docker == docker


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("80", "HOST:CONTAINER"),
        ("0:80", "1 to 65535"),
        ("8080:70000", "1 to 65535"),
        ("a:80", "1 to 65535"),
        ("8080:80/icmp", "tcp, udp or sctp"),
        ("localhost:8080:80", "not an IPv4 address"),
    ],
)
def test_bad_ports(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_port(text)


def test_env_pairs_and_values_from_the_environment() -> None:
    assert parse_env("MODE=prod") == ("MODE", "prod")
    assert parse_env("EMPTY=") == ("EMPTY", "")
    assert parse_env("URL=a=b") == ("URL", "a=b")
    assert parse_env("TOKEN", {"TOKEN": "s3cret"}) == ("TOKEN", "s3cret")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("TOKEN", "TOKEN is not set in ecrtool's environment"),
        ("1X=y", "invalid environment variable name '1X'"),
        ("A B=c", "invalid environment variable name"),
        ("=value", "invalid environment variable name ''"),
        ("MULTI=a\nb", "newline"),
    ],
)
def test_bad_env(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_env(text, {})


def test_env_file_in_dockers_format(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text('# comment\n\n  MODE=prod\nQUOTED="kept as is"\nFROM_ENV\nUNSET\nSPACES= a b \n')
    assert read_env_file(str(path), {"FROM_ENV": "here"}) == [
        ("MODE", "prod"),
        ("QUOTED", '"kept as is"'),
        ("FROM_ENV", "here"),
        ("SPACES", " a b "),
    ]


def test_env_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.env"
    path.write_text("GOOD=1\nBAD KEY=2\n")
    with pytest.raises(InvalidInput, match=rf"in {path}, line 2"):
        read_env_file(str(path), {})
    with pytest.raises(InvalidInput, match="no such file"):
        read_env_file(str(tmp_path / "missing.env"), {})


def test_later_settings_win(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text("MODE=file\nKEEP=1\n")
    spec = build_spec(env_file=str(path), env=["MODE=flag"], environ={})
    assert dict(spec.env) == {"MODE": "flag", "KEEP": "1"}


def test_env_values_stay_out_of_the_repr() -> None:
    assert "s3cret" not in repr(build_spec(env=["TOKEN=s3cret"], environ={}))


def test_mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_mount("/srv/data:/data:ro") == Mount("/srv/data", "/data", "ro")
    assert parse_mount("./data:/data") == Mount(str(tmp_path / "data"), "/data")
    assert parse_mount("./data:/data", resolve=False) == Mount("./data", "/data")
    assert parse_mount("cache:/var/cache") == Mount("cache", "/var/cache")
    assert Mount("/a", "/b", "ro").docker == "/a:/b:ro"


@pytest.mark.parametrize("text", ["/data", "/a:data", "/a:/b:rx", "bad name:/b", ":/b", "/a:/b:ro:extra"])
def test_bad_mounts(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid volume"):
        parse_mount(text)


def test_restart_policies() -> None:
    assert parse_restart("unless-stopped") == RestartPolicy("unless-stopped")
    assert parse_restart("on-failure:3") == RestartPolicy("on-failure", 3)
    assert parse_restart("on-failure:3").docker == "on-failure:3"
    for bad in ("sometimes", "always:3", "on-failure:x", ""):
        with pytest.raises(InvalidInput, match="invalid restart policy"):
            parse_restart(bad)


def test_names() -> None:
    assert validate_name("web-1.blue_x") == "web-1.blue_x"
    for bad in ("-web", "a", "we b", "web/1", "x" * 129):
        with pytest.raises(InvalidInput, match="invalid container name"):
            validate_name(bad)


def test_rm_and_restart_do_not_go_together() -> None:
    with pytest.raises(InvalidInput, match="--rm and --restart"):
        build_spec(remove=True, restart="always")
    assert build_spec(remove=True, restart="no").remove


def test_the_command_is_kept_as_a_list() -> None:
    spec = build_spec(command=["sh", "-c", "echo $HOME; exit 3"], detach=True, name="job")
    assert spec.command == ("sh", "-c", "echo $HOME; exit 3")
    assert (spec.detach, spec.name) == (True, "job")
