"""`ecrtool copy` on the command line: bad input is exit 2 before any registry or AWS call; the result's shape."""

from __future__ import annotations

from typing import Any

import pytest

DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def no_registry(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A registry client that fails the test if ecrtool so much as builds one."""
    built: list[str] = []

    def forbidden(host: str, **_: Any) -> Any:
        built.append(host)
        pytest.fail(f"a registry client for {host} was built for input that should have been refused first")

    monkeypatch.setattr("ecrtool.service.copy.RegistryClient", forbidden)
    monkeypatch.setattr("ecrtool.service.sources.RegistryClient", forbidden)  # another registry's client
    return built


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["trees:v1"], "--to-region"),
        (["trees:v1", "other:v1", "--to-account", "210987654321"], "not both"),
        (["trees:v1", "other@" + DIGEST], "keeps the digest"),
        (["trees:v1", "other:v1", "-j", "100"], "-j 100"),
        (["docker.io/library/Busybox:1.36", "busybox:1.36"], "docker.io/library/Busybox:1.36"),
        (["trees:v1", "ghcr.io/owner/app:1"], "is not an ECR registry"),
        (["trees:v1", "--to-account", "2109876543"], "12 digits"),
    ],
)
def test_bad_references_exit_2_naming_the_problem_before_any_call(
    argv: list[str], words: str, invoke: Any, forbid_backends: list[str], no_registry: list[str]
) -> None:
    result = invoke("copy", *argv)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("ecrtool: error: ") and words in result.stderr
    assert result.stdout == ""
    assert forbid_backends == [] and no_registry == []


def test_help_shows_how_to_copy_to_another_region(invoke: Any) -> None:
    result = invoke("copy", "--help")
    assert result.exit_code == 0
    assert "ecrtool copy trees:viruses --to-region us-east-1" in result.stdout


def test_a_public_gallery_source_is_read_from_its_registry_anonymously(
    invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`copy public.ecr.aws/ALIAS/REPO` is a copy from a registry like any other (README's promise), from
    ECRTOOL_PUBLIC_REGISTRY's host where it stands in, with no credentials of ours."""
    built: list[tuple[str, Any]] = []

    class Registry:
        def __init__(self, host: str, **options: Any) -> None:
            built.append((host, options.get("basic")))
            self.host = host

        def get_manifest(self, repository: str, reference: str) -> None:
            built.append((f"{self.host}/{repository}:{reference}", None))

    monkeypatch.setattr("ecrtool.service.copy.RegistryClient", Registry)
    monkeypatch.setattr("ecrtool.service.sources.RegistryClient", Registry)  # another registry's client
    monkeypatch.setenv("ECRTOOL_PUBLIC_REGISTRY", "127.0.0.1:5999")
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")

    result = invoke("copy", "public.ecr.aws/team/app:v1", "other:v1")

    assert result.exit_code == 1, result.output
    assert "source image 127.0.0.1:5999/team/app:v1 not found" in result.stderr
    assert ("127.0.0.1:5999", None) in built and ("127.0.0.1:5999/team/app:v1", None) in built


def test_an_identity_token_in_the_docker_config_goes_to_the_client_as_a_refresh_token(
    invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    (tmp_path / "config.json").write_text('{"auths": {"registry.example": {"identitytoken": "refresh-me"}}}')
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    built: list[dict[str, Any]] = []

    class Registry:
        def __init__(self, host: str, **options: Any) -> None:
            built.append({"host": host, **options})
            self.host = host

        def get_manifest(self, repository: str, reference: str) -> None:
            return None

    monkeypatch.setattr("ecrtool.service.copy.RegistryClient", Registry)
    monkeypatch.setattr("ecrtool.service.sources.RegistryClient", Registry)  # another registry's client

    result = invoke("copy", "registry.example/team/app:v1", "other:v1")

    assert result.exit_code == 1 and "source image registry.example/team/app:v1 not found" in result.stderr
    (source,) = [options for options in built if options["host"] == "registry.example"]
    assert source["refresh_token"] == "refresh-me"
