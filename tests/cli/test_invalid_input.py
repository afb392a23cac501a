"""Invalid input: exit 2, one `ecrtool: error:` line on stderr, and neither AWS nor Docker is touched."""

from __future__ import annotations

from typing import Any

import click
import pytest

from ecrtool.cli.main import cli

DIGEST = "sha256:" + "a" * 64

INVALID: dict[str, list[list[str]]] = {
    "create": [
        ["Trees"],
        ["--", "-rf"],
        ["$(id)"],
        ["trees:1.0"],
        ["trees@" + DIGEST],
        ["t"],
        ["trees//app"],
        ["trees", "--tag", "noequals"],
        ["trees", "--tag", "=value"],
        ["trees", "--kms-key", " "],
        ["public.ecr.aws/trees"],
        ["registry.example.com/trees"],
        ["trees", "--region", "mars"],
    ],
    "login": [
        ["--region", "ca_west_1"],
        ["--registry-id", "123"],
        ["--registry-id", "12345678901a"],
    ],
    "tag": [
        ["Viruses"],
        ["--", "-viruses"],
        ["viruses", "--repo", "Trees"],
        ["viruses", "--tag", ".hidden"],
        ["viruses@" + DIGEST],
        ["abcdef123456"],
    ],
    "push": [
        ["--", "--help-me"],
        ["$(id)"],
        ["viruses;id"],
        ["viruses", "--repo", "a"],
        ["viruses", "--repo", "trees/"],
        ["viruses", "--repo", "trees--app"],
        ["viruses", "--tag", "-x"],
        ["viruses", "--tag", "a" * 129],
        ["viruses", "--tag", "v 1"],
        ["abcdef123456"],
        ["abcdef123456", "--repo", "trees"],
        ["Viruses"],
        ["viruses", "--repo", "trees\n"],
    ],
    "scan": [
        [],
        ["trees:v1", "--fail-on", "severe"],
        ["trees:v1", "--fail-on", "undefined"],
        ["trees:v1", "--timeout", "ten minutes"],
        ["trees@sha256:abc"],
        ["public.ecr.aws/alias/trees:v1"],
        ["trees:v1", "--wait=yes"],
    ],
    "retag": [
        ["trees:v1"],
        ["trees:v1", "-bad"],
        ["trees:v1", "ok", "no/slash"],
        ["trees:v1", "x" * 129],
        ["trees@sha256:abc", "ok"],
        ["public.ecr.aws/alias/trees:v1", "ok"],
        ["docker.io/library/nginx:latest", "ok"],
        ["--", "-trees", "ok"],
    ],
    "pull": [
        ["trees:"],
        ["trees@sha256:abc"],
        ["trees@"],
        ["public.ecr.aws/nginx"],
        ["docker.io/library/nginx:latest"],
        ["123456789012.dkr.ecr.ca-west-1.amazonaws.com/Trees"],
        ["123456789012.dkr.ecr.ca-west-1.amazonaws.com.evil.example/trees"],
        ["--", "-trees"],
        ["trees:$(id)"],
    ],
    "images": [
        ["Trees"],
        ["trees:v1 extra"],
        ["trees", "--region", "CA-WEST-1"],
        ["trees", "--not-pulled-for", "90"],
        ["trees", "--not-pulled-for", "-1d"],
    ],
    "archive": [
        [],
        ["trees"],
        ["Trees:v1"],
        ["trees:v1", "trees"],  # every REF checked before the first call
        ["trees@sha256:abc"],
    ],
    "restore": [
        [],
        ["trees"],
        ["trees:v1", "--timeout", "5m"],
        ["trees:v1", "--wait", "--timeout", "soon"],
        ["trees:v1", "$(id)"],
    ],
    "repos": [
        ["--region", "nowhere"],
        ["--registry-id", "abc"],
    ],
    "delete": [
        ["trees:v1"],
        ["trees", "--tag", "-bad"],
        ["trees", "--tag", "v1\n"],
        ["trees", "--digest", "sha256:xyz"],
        ["trees", "--digest", "md5:" + "a" * 32],
        ["trees", "--tag", "v1", "--force"],
        ["trees", "--tag", "v1", "--yes"],
        ["Trees", "--force", "--yes"],
    ],
    "prune": [
        ["trees"],
        ["trees", "--older-than", "30x"],
        ["trees", "--older-than", "30"],
        ["trees", "--keep", "-1"],
        ["trees", "--keep", "many"],
        ["trees:v1", "--keep", "1"],
        ["trees", "--keep", "1", "--tag-prefix", "rel ease"],
        ["trees", "--keep", "1", "--keep-tag", "v1;id"],
        ["Trees", "--keep", "1", "--yes"],
        ["trees", "--not-pulled-for", "0d"],
        ["trees", "--not-pulled-for", "soon"],
        ["trees", "--untagged", "--protect-file", "/nonexistent/pods.txt"],
    ],
    "lifecycle": [
        ["show", "trees:v1"],
        ["set", "trees"],
        ["set", "trees", "--keep", "0"],
        ["set", "trees", "--untagged-older-than", "soon"],
        ["set", "trees", "--untagged-older-than", "12h"],
        ["set", "trees", "--file", "/nonexistent/policy.json"],
        ["set", "trees", "--file", "/nonexistent/policy.json", "--keep", "3"],
        ["preview", "trees", "--keep", "-2"],
        ["preview", "trees", "--tag-prefix", "a/b"],
        ["set", "trees", "--archive-after", "36h"],
        ["preview", "trees", "--expire-archived-after", "never"],
    ],
    "run": [
        ["Trees:v1"],
        ["--", "-trees"],
        ["public.ecr.aws/nginx"],
        ["docker.io/library/busybox"],
        ["trees:v1", "-p", "80"],
        ["trees:v1", "-p", "8080:99999"],
        ["trees:v1", "-e", "1BAD=x"],
        ["trees:v1", "-e", "UNSET_IN_THIS_TEST"],
        ["trees:v1", "--env-file", "/nonexistent/app.env"],
        ["trees:v1", "-v", "/srv"],
        ["trees:v1", "-v", "/srv:relative"],
        ["trees:v1", "--restart", "sometimes"],
        ["trees:v1", "--rm", "--restart", "always"],
        ["trees:v1", "--name", "-web"],
        ["trees:v1", "--runner", "api", "--sudo"],
        ["trees:v1", "--docker-host", "/var/run/docker.sock"],
    ],
    "copy": [
        ["Trees:v1", "--to-region", "us-east-1"],
        ["trees:v1"],
        ["trees:v1", "other:v1", "--to-region", "us-east-1"],
        ["trees:v1", "other@" + DIGEST],
        ["trees:v1", "--to-region", "mars"],
        ["trees:v1", "--to-account", "123"],
        ["trees:v1", "other:v1", "-j", "0"],
        ["ghcr.io/Owner/app:1", "app:1"],
        ["trees:v1", "registry.example.com/app:1"],
        ["trees:v1", "--repo", "trees:v2", "--to-region", "us-east-1"],
        ["--", "-rf", "trees:v1"],
    ],
    "replication": [
        ["set"],
        ["set", "--to", "us_east_1"],
        ["set", "--to", "us-east-1:123"],
        ["set", "--to", "us-east-1", "--filter", "Prod"],
        ["backfill", "Trees"],
        ["backfill", "-j", "0"],
        ["status", "trees@sha256:abc"],
        ["status", "123456789012.dkr.ecr.us-east-1.amazonaws.com/trees:1"],
    ],
    "ec2": [
        ["user-data", "--image", "Trees"],
        ["user-data", "--image", "trees:v1", "--region", "mars"],
        ["user-data", "--image", "trees:v1", "--region", "ca-west-1", "-e", "TOKEN"],
        ["user-data", "--image", "trees:v1", "--region", "ca-west-1", "--service", "--restart", "always"],
        ["user-data", "--image", "trees:v1", "--region", "ca-west-1", "--install", "ecrtool; reboot"],
        ["user-data", "--image", "trees:v1", "--region", "ca-west-1", "--env-file", "relative.env"],
    ],
    "config": [
        ["show", "--region", "mars"],
        ["show", "--registry-id", "12"],
    ],
    "configure-docker": [
        ["--region", "mars"],
        ["--region", "ca-west-1", "--region", "CA-WEST-1"],
        ["--registry-id", "12345"],
        ["123456789012.dkr.ecr.ca-west-1.amazonaws.com"],
    ],
    "inspect": [
        ["Trees:1"],
        ["trees@sha256:abc"],
        ["ghcr.io/Owner/App:1"],
        ["public.ecr.aws/trees"],
        ["trees:v1", "--raw", "--config"],
        ["trees:v1", "--region", "mars"],
    ],
    "digest": [
        ["Trees:1"],
        ["--", "-trees"],
        ["ghcr.io/owner/app@sha256:abc"],
        ["trees:v1", "--registry-id", "12"],
    ],
    "doctor": [
        ["--region", "mars"],
        ["--registry-id", "abc"],
        ["trees"],
        ["--can-pull", "Trees:1"],
    ],
    "grant": [
        ["trees", "--account", "210987654321"],
        ["trees", "--pull"],
        ["trees", "--pull", "--account", '1234"}'],
        ["trees", "--pull", "--account", "21098765432"],
        ["trees", "--pull", "--org", "o-UPPER000000"],
        ["trees", "--pull", "--role", "arn:aws:iam::210987654321:user/x"],
        ["trees", "--pull", "--lambda", "--source-arn", "arn:aws:lambda:ca-west-1:1:function:f"],
        ["trees", "--pull", "--account", "210987654321", "--source-arn", "arn:aws:lambda:ca-west-1:1:function:f"],
        ["trees:1", "--pull", "--account", "210987654321"],
        ["--pull", "--account", "210987654321"],
        ["trees", "--registry", "--pull", "--account", "210987654321"],
        ["trees", "--replicate", "--account", "210987654321"],
    ],
    "revoke": [
        ["trees", "--pull", "--account", "all"],
        ["Trees", "--push", "--account", "210987654321"],
    ],
    "policy": [
        ["show"],
        ["show", "Trees"],
        ["show", "trees", "--registry"],
    ],
    "sync": [
        ["/nonexistent/mirror.yaml"],
        ["/"],
        ["/dev/null"],
        ["/dev/null", "--region", "mars"],
        ["/dev/null", "--registry-id", "123"],
    ],
    "template": [
        ["set"],
        ["set", "Team"],
        ["set", "team//app"],
        ["set", "--", "-team"],
        ["set", "team", "--lifecycle-keep", "0"],
        ["set", "team", "--grant-pull", '1234"}'],
        ["set", "team", "--for", "create-on-pull"],
        ["set", "team", "--for", ","],
        ["set", "team", "--tag", "noequals"],
        ["set", "team", "--tag", "=value"],
        ["set", "team", "--tag", "k=" + "v" * 257],
        ["delete", "Team/"],
        ["list", "--region", "mars"],
    ],
}

CASES = [pytest.param([name, *args], id=f"{name}-{args!r}") for name, cases in INVALID.items() for args in cases]


def test_every_command_has_invalid_input_cases() -> None:
    assert set(INVALID) == set(cli.list_commands(click.Context(cli)))


@pytest.mark.parametrize("argv", CASES)
def test_invalid_input_exits_2_with_one_error_line(argv: list[str], invoke: Any, forbid_backends: Any) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ecrtool: error: ")
    assert result.stdout == ""
    assert forbid_backends == []


@pytest.mark.parametrize(
    "argv",
    [["push", "viruses", "--repo", "trees", "-q", "--region", "mars"], ["--region", "mars", "push", "viruses"]],
)
def test_a_bad_global_option_is_refused_wherever_it_stands(argv: list[str], invoke: Any, forbid_backends: Any) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2
    assert result.stderr.startswith("ecrtool: error: invalid region 'mars'")


def test_a_bad_ecrtool_registry_is_refused(invoke: Any, forbid_backends: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECRTOOL_REGISTRY", "http://127.0.0.1:5000/v2")
    result = invoke("repos")
    assert result.exit_code == 2
    assert result.stderr.startswith("ecrtool: error: invalid ECRTOOL_REGISTRY")
    assert "127.0.0.1:5000" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [["push"], ["push", "viruses", "--no-such-option"], ["--output", "yaml", "repos"], ["no-such-command"]],
)
def test_usage_errors_exit_2_without_traceback(argv: list[str], invoke: Any, forbid_backends: Any) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: "), result.stderr
    assert "--help" in lines[0]
    assert result.stdout == ""


def test_messages_say_what_to_do_next(invoke: Any, forbid_backends: Any) -> None:
    result = invoke("push", "abcdef123456")
    assert "--repo" in result.stderr and "--tag" in result.stderr
    result = invoke("create", "trees", "--tag", "team")
    assert "KEY=VALUE" in result.stderr
    result = invoke("images", "public.ecr.aws/library/nginx")
    assert "ecrtool pulls and runs those" in result.stderr


@pytest.mark.parametrize("text", ["=\x85", "trees\nfoo", "a\u2028b", "x\rmore"])
def test_input_holding_line_breaks_is_quoted_on_one_line(text: str, invoke: Any, forbid_backends: Any) -> None:
    result = invoke("create", "--", "--tag", text)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: "), result.stderr


def test_debug_taken_as_an_options_value_shows_no_traceback(invoke: Any, forbid_backends: Any) -> None:
    result = invoke("login", "--region", "--debug")
    assert result.exit_code == 2
    assert result.stderr == "ecrtool: error: invalid region '--debug': expected a region code such as ca-west-1\n"
