"""AwsSession from several threads at once, as a copy's destinations use it: botocore's session is not
thread-safe, so its credentials are resolved by one thread at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ecrtool.aws.session import AwsSession


class _Session:
    """A botocore session whose credential resolution notices being entered twice at once."""

    profile = None

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()

    def get_credentials(self) -> Any:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.02)  # botocore reads files, asks STS or instance metadata: long enough to meet another
        with self.lock:
            self.inside -= 1
        return type("Credentials", (), {"method": "env", "access_key": "AKIAEXAMPLE"})()

    def get_scoped_config(self) -> dict[str, str]:
        return {}


@pytest.mark.parametrize("asked", ["identity", "credentials_source"])
def test_credentials_are_resolved_one_thread_at_a_time(monkeypatch: pytest.MonkeyPatch, asked: str) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_PROFILE", "someone")  # not the environment's keys: the session is asked
    session = AwsSession(region="ca-west-1", profile="someone")
    fake = _Session()
    monkeypatch.setattr(session, "_made_session", lambda: fake)

    threads = [threading.Thread(target=getattr(session, asked)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fake.most == 1
