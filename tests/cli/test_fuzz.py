"""Whatever is typed or written in the config file, ecrtool answers with a result or one error line.

hypothesis drives every command with references, tags, digests, KEY=VALUE pairs and config files,
most of them wrong, some of them shaped to pass for options or shell text. The commands run through
the real CLI against moto and the fake engine; a traceback, an exception escaping the handler or an
exit code outside 0/1/2 fails the test.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrtool.model.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# text that looks like what people type, and what an attacker would try
hostile = st.sampled_from(
    ["--privileged", "-v", "--", "$(id)", "`id`", "; rm -rf /", "a b", "x\ny", "..", "/", ":", "@", "\x00", "é"]
)
lowercase = st.text(string.ascii_lowercase + string.digits + "._-/", min_size=1, max_size=30)
names = st.one_of(
    st.sampled_from(["trees", "viruses", "forest/trees"]),
    st.from_regex(r"\A[a-z0-9]+(?:[._-][a-z0-9]+)*\Z"),
    lowercase,
    hostile,
    st.text(max_size=30),
)
tags = st.one_of(
    st.sampled_from(["v1", "latest"]),
    st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z"),
    hostile,
    st.text(max_size=20),
)
digests = st.one_of(st.from_regex(r"\Asha256:[a-f0-9]{64}\Z"), st.text(string.hexdigits + ":sha", max_size=80), hostile)
references = st.one_of(
    st.builds(lambda n, t: f"{n}:{t}", names, tags),
    st.builds(lambda n, d: f"{n}@{d}", names, digests),
    st.builds(lambda n: f"123456789012.dkr.ecr.ca-west-1.amazonaws.com/{n}", names),
    names,
)
pairs = st.one_of(st.builds(lambda k, v: f"{k}={v}", st.text(max_size=20), st.text(max_size=20)), hostile)


def repeated(option: str, values: list[str]) -> list[str]:
    return [arg for value in values for arg in (option, value)]


commands = st.one_of(
    st.builds(lambda n, kv: ["create", n, *repeated("--tag", kv)], names, st.lists(pairs, max_size=3)),
    st.builds(
        lambda i, r, t: ["push", i, *(["--repo", r] if r else []), *repeated("--tag", t)],
        references,
        st.none() | names,
        st.lists(tags, max_size=3),
    ),
    st.builds(lambda r: ["pull", r], references),
    st.builds(lambda r: ["images", r], references),
    st.builds(
        lambda r, t, d: ["delete", r, *repeated("--tag", t), *repeated("--digest", d)],
        names,
        st.lists(tags, min_size=1, max_size=3),
        st.lists(digests, max_size=2),
    ),
    st.builds(lambda i, r, t: ["tag", i, "--repo", r, *repeated("--tag", t)], references, names, st.lists(tags)),
)


def assert_handled(result: Any) -> None:
    """The invoke fixture already refuses escaped exceptions and tracebacks; the exit code and message too."""
    assert result.exit_code in (EXIT_OK, EXIT_FAILURE, EXIT_USAGE), (result.exit_code, result.output)
    if result.exit_code != EXIT_OK:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ecrtool: error: ")]
        last = result.stderr.rstrip("\n").splitlines()[-1]
        if result.exit_code == EXIT_FAILURE and last.startswith("failed "):
            assert errors == [], result.stderr  # delete's report: one line per image it could not delete
        else:
            assert errors == [last], result.stderr


@pytest.fixture
def world(aws: Any, fake_docker: Any) -> Any:
    """A repository and a local image, so that well-formed input gets as far as it can."""
    aws.create_repository(repositoryName="trees")
    fake_docker.add_image("viruses")
    return fake_docker


@FUZZ
@given(argv=commands)
def test_any_command_line_is_answered_without_a_traceback(invoke: Any, world: Any, argv: list[str]) -> None:
    assert_handled(invoke(*argv))


@FUZZ
@given(argv=commands)
def test_hostile_text_never_reaches_the_engine_as_a_name(invoke: Any, world: Any, argv: list[str]) -> None:
    before = len(world.calls)
    invoke(*argv)
    for call in world.calls[before:]:
        for part in call[1:]:
            assert not part.startswith("-"), call
            assert not set(part) & set("$`; \n\x00"), call


# -- config files ----------------------------------------------------------------------------------

# TOML strings hold any Unicode scalar value, so no lone surrogates; its integers are 64-bit
toml_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
keys = st.one_of(st.sampled_from(["region", "registry_id", "docker_host", "runner", "sudo", "profile"]), toml_text)
scalars = st.one_of(
    toml_text,
    st.sampled_from(["ca-west-1", "123456789012", "unix:///var/run/docker.sock", "api", "cli"]),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def toml(doc: dict[str, Any], tables: dict[str, dict[str, Any]]) -> str:
    """A small TOML writer: JSON strings and numbers are valid TOML, booleans are spelled the same."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        if isinstance(item, float):
            return repr(item) if item == item and abs(item) != float("inf") else "0.0"
        return json.dumps(item)

    lines = [f"{json.dumps(k)} = {value(v)}" for k, v in doc.items()]
    for name, table in tables.items():
        if name in doc:
            continue  # a key defined twice is a TOML error, not the case wanted here
        lines.append(f"[{json.dumps(name)}]")
        lines += [f"{json.dumps(k)} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


config_texts = st.one_of(
    st.builds(
        toml,
        st.dictionaries(keys, values, max_size=4),
        st.dictionaries(toml_text, st.dictionaries(keys, values, max_size=2), max_size=2),
    ),
    st.text(max_size=200),
    st.sampled_from(['region = "ca-west-1"\nregion = "x"\n', "[registries\n", 'sudo = "yes"\n', "\ufeffregion = 1"]),
)


@FUZZ
@given(text=config_texts)
def test_any_config_file_is_answered_without_a_traceback(
    invoke: Any, world: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    path = isolated_env / ".config" / "ecrtool" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_env / ".config"))
    for argv in (["repos"], ["push", "viruses", "--repo", "trees"], ["images", "trees"]):
        assert_handled(invoke(*argv))


@FUZZ
@given(data=st.binary(max_size=200))
def test_a_config_file_that_is_not_text_is_one_error(
    invoke: Any, world: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    path = isolated_env / "config.toml"
    path.write_bytes(data)
    monkeypatch.setenv("ECRTOOL_CONFIG", str(path))
    assert_handled(invoke("repos"))
