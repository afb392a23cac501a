"""What the bridge keeps for the ECR API beside moto: the repositories' settings and the registries'
account settings across restarts (ecr-state.json), and the listings it hands out a page at a time."""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .face import Scope

_ACCOUNT_SETTINGS = "account-settings"  # beside the ACCOUNT/REGION keys of repositories


class Settings:
    """The repositories of each account and region, with the settings they were given: ecr-state.json.

    moto keeps them in memory only; the bridge writes each change through, and puts them back in moto
    when it starts again (Bridge.restore).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            self._doc: dict[str, dict[str, dict[str, Any]]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._doc = {}

    def account_setting(self, scope: Scope, name: str) -> str | None:
        """An account setting (PutAccountSetting) of SCOPE's registry; None when it was never put."""
        with self._lock:
            return self._doc.get(_ACCOUNT_SETTINGS, {}).get(f"{scope.account}/{scope.region}", {}).get(name)

    def put_account_setting(self, scope: Scope, name: str, value: str) -> None:
        with self._lock:
            found = self._doc.setdefault(_ACCOUNT_SETTINGS, {})
            found.setdefault(f"{scope.account}/{scope.region}", {})[name] = value
            self._save()

    def all(self) -> list[tuple[Scope, str, dict[str, Any]]]:
        with self._lock:
            found = []
            for key, repos in self._doc.items():
                if key == _ACCOUNT_SETTINGS:
                    continue
                account, _, region = key.partition("/")
                found += [(Scope(account, region), name, dict(saved)) for name, saved in repos.items()]
            return found

    def record(self, scope: Scope, action: str, params: dict[str, Any]) -> None:
        """What a successful ACTION with PARAMS changed."""
        name = str(params.get("repositoryName", ""))
        with self._lock:
            repos = self._doc.setdefault(f"{scope.account}/{scope.region}", {})
            if action == "CreateRepository":
                keep = ("imageTagMutability", "imageScanningConfiguration", "encryptionConfiguration", "tags")
                repos[name] = {k: params[k] for k in keep if k in params}
            elif action == "DeleteRepository":
                repos.pop(name, None)
            elif name in repos and action == "PutImageTagMutability":
                repos[name]["imageTagMutability"] = params.get("imageTagMutability")
            elif name in repos and action == "PutImageScanningConfiguration":
                repos[name]["imageScanningConfiguration"] = params.get("imageScanningConfiguration")
            elif name in repos and action == "PutLifecyclePolicy":
                repos[name]["lifecyclePolicyText"] = params.get("lifecyclePolicyText")
            elif name in repos and action == "DeleteLifecyclePolicy":
                repos[name].pop("lifecyclePolicyText", None)
            elif name in repos and action == "SetRepositoryPolicy":
                repos[name]["policyText"] = params.get("policyText")
            elif name in repos and action == "DeleteRepositoryPolicy":
                repos[name].pop("policyText", None)
            self._save()

    def _save(self) -> None:
        fresh = self._path.with_name(self._path.name + ".new")
        fresh.write_text(json.dumps(self._doc, indent=1))
        fresh.replace(self._path)


class Pages:
    """The listings handed out a page at a time: each first page takes a snapshot, and its nextToken
    names the snapshot and where the next page starts (a listing stays as it was, as ECR's do)."""

    def __init__(self, keep: int = 256) -> None:
        self._snapshots: OrderedDict[str, list[Any]] = OrderedDict()
        self._limit = keep
        self._lock = threading.Lock()

    def keep(self, items: list[Any], offset: int) -> str:
        with self._lock:
            name = next((k for k, v in self._snapshots.items() if v is items), None) or secrets.token_hex(8)
            self._snapshots[name] = items
            self._snapshots.move_to_end(name)
            while len(self._snapshots) > self._limit:
                self._snapshots.popitem(last=False)
        return f"{name}.{offset}"

    def get(self, token: str) -> tuple[list[Any], int] | None:
        name, _, offset = token.partition(".")
        with self._lock:
            items = self._snapshots.get(name)
        if items is None or not offset.isdigit():
            return None
        return items, int(offset)
