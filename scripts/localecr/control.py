"""The bridge's own endpoints on its plain API port (``/_bridge/*``): the registry's notifications, and
what tests read and steer (call counts, faults, image scans, passwords, instance metadata, health)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .answer import Answer, json_answer
from .face import Scope
from .pulls import caller_arn
from .registry import MANIFEST_TYPES
from .state import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from .bridge import Bridge

log = logging.getLogger("localecr.bridge")


def control(bridge: Bridge, command: str, path: str, read: Callable[[], bytes]) -> Answer:
    """Answer COMMAND PATH; READ gives the request's whole body."""

    def doc() -> Any:
        return json.loads(read() or b"{}")

    if path == "/_bridge/events" and command == "POST":
        events(bridge, read())
        return Answer(200)
    if path == "/_bridge/stats" and command == "GET":
        return json_answer(200, bridge.stats())
    if path == "/_bridge/reset-stats" and command == "POST":
        bridge.reset_stats()
        return json_answer(200, {})
    if path == "/_bridge/faults" and command == "POST":
        bridge.set_faults(doc())
        return json_answer(200, {"deny": bridge.faults.get("deny") or []})
    if path == "/_bridge/scans" and command == "POST":
        return json_answer(200, bridge.scans.configure(doc()))
    if path == "/_bridge/rotate-password" and command == "POST":
        bridge.rotate_password()
        return json_answer(200, {})
    if path == "/_bridge/token" and command == "POST":
        # a registry password for tests that talk to the registry directly (as docker login would)
        wanted = doc()
        scope = Scope(str(wanted.get("account") or ACCOUNT_ID), str(wanted.get("region") or REGION))
        # the password the account's own key gets from GetAuthorizationToken (it names its principal, pulls.py)
        principal = str(wanted.get("principal") or caller_arn(scope.account))
        password, expires = bridge.tokens.issue(scope.account, scope.region, principal=principal)
        return json_answer(200, {"username": "AWS", "password": password, "expiresAt": expires})
    if path == "/_bridge/imds" and command == "POST":
        try:
            return json_answer(200, bridge.instance.control(doc()))
        except ValueError as err:
            return json_answer(400, {"error": str(err)})
    if path == "/_bridge/s3" and command == "POST":
        try:
            return json_answer(200, bridge.layers.control(doc()))
        except ValueError as err:
            return json_answer(400, {"error": str(err)})
    if path in ("/_bridge/throttle", "/_bridge/referrers") and command == "POST":
        steered = bridge.throttle if path == "/_bridge/throttle" else bridge.face.referrers
        try:
            return json_answer(200, steered.control(doc()) if steered is not None else {})
        except ValueError as err:
            return json_answer(400, {"error": str(err)})
    if path == "/_bridge/templates" and command == "POST":  # what creation templates created (templates.py)
        return json_answer(200, bridge.templates.control(doc()))
    if path == "/_bridge/replication" and command == "POST":
        return json_answer(200, bridge.replication.control(doc()))
    if path == "/_bridge/image-times" and command == "POST":  # an image's pull and push times (pulls.py)
        try:
            return json_answer(200, bridge.images.control(doc()))
        except ValueError as err:
            return json_answer(400, {"error": str(err)})
    if path == "/_bridge/health" and command == "GET":
        health = bridge.health()
        return json_answer(200 if all(health.values()) else 503, health)
    return json_answer(404, {"error": f"no {command} {path}"})


def events(bridge: Bridge, body: bytes) -> None:
    """Registry notifications; always answered 200, or the registry would resend forever."""
    try:
        found = json.loads(body).get("events", [])
    except ValueError:
        log.warning("notification that is not JSON ignored")
        return
    for event in found:
        target = event.get("target", {})
        if event.get("action") != "push" or target.get("mediaType") not in MANIFEST_TYPES:
            continue
        bridge.replication.pushed(target["repository"], target.get("tag"), target["digest"])
        if not target.get("tag"):
            continue  # by digest only: an index's children, recorded with the index (mirror.py)
        try:
            bridge.mirror.on_push(target["repository"], target["tag"], target["digest"])
        except Exception:
            log.exception("notification for %s:%s not recorded", target.get("repository"), target.get("tag"))
        bridge.pushed()
