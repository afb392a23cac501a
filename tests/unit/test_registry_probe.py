"""The registry probe: how ecrtool tells a registry that is down from one that is only slow."""

from __future__ import annotations

import socket

import pytest

from ecrtool.registry.probe import address, unreachable


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.ca-west-1.amazonaws.com", ("123456789012.dkr.ecr.ca-west-1.amazonaws.com", 443)),
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("localhost", ("localhost", 443)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", 443)),
    ],
)
def test_address(host: str, expected: tuple[str, int]) -> None:
    assert address(host) == expected


def test_a_listening_registry_is_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert unreachable(f"127.0.0.1:{server.getsockname()[1]}") is None


def test_a_closed_port_says_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        assert unreachable(f"127.0.0.1:{port}") == "Connection refused"


def test_an_unknown_name_says_it_cannot_be_resolved() -> None:
    problem = unreachable("registry.invalid:5000")
    assert problem is not None and problem.startswith("cannot resolve registry.invalid")
