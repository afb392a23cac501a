"""The bridge: the stack's AWS endpoints and its registry's ECR face, in front of moto and docker-registry.

``Bridge`` holds what every request shares: moto's port, the registry and its mirror in the ECR API,
the passwords, the settings kept across restarts, the faults and counters tests steer. Requests are
routed by handler.py to the ECR and STS APIs (api.py), the registry's ECR face (face.py), and the
bridge's own ``/_bridge/*`` endpoints (control.py).

It listens on plain loopback ports (the API, the registry's face for the first account and region)
and, unless the stack is plain, on ECR's names over TLS: FRONT_IP:443, routed by the Host header.

Run as ``python3 -m localecr.bridge --state DIR`` with ``scripts`` on PYTHONPATH; it starts moto in
this same process on the internal port from ``DIR/ports``.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import imds, public, s3, throttle
from .access import Access
from .answer import Answer, ecr_error
from .face import Face, Scope
from .handler import BridgeServer
from .lifecycle import Lifecycle
from .mirror import Mirror
from .pulls import Images
from .referrers import Referrers
from .registry import Registry
from .replication import Replication
from .scans import Scans
from .settings import Pages, Settings
from .state import ACCOUNT_ID, FRONT_IP, State
from .templates import Templates
from .tokens import Tokens

log = logging.getLogger("localecr.bridge")


class Bridge:
    """What the request handlers share: moto's port, the registry, the mirror and the counters."""

    def __init__(self, state: State) -> None:
        ports = state.ports()
        self.moto_port = ports.moto
        self.registry = Registry(ports.internal, state.password(), state.registry_data)
        self.tokens = Tokens(state.secret())
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self.mirror = Mirror(self.ecr, self.registry)
        self.face = Face(self.tokens, self, ports.internal, self.registry.auth_header)
        # blob GETs go to ECR's layer bucket on the TLS front; a plain stack has no names to send them to
        ttl = s3.ttl_of(os.environ.get("LOCAL_ECR_S3_URL_TTL"))
        self.layers = s3.Layers(state.secret(), ports.internal, self.registry.auth_header, ttl, state.registry_data)
        if not state.plain:
            self.face.layers = self.layers
        # the public gallery, read anonymously: the first account's us-east-1 repositories (public.py)
        self.gallery = public.Gallery(state.secret(), ACCOUNT_ID, ports.internal, self.registry.auth_header)
        # ECR serves the referrers API; LOCAL_ECR_REFERRERS=0 at `up` leaves a registry without one
        self.face.referrers = Referrers(self.registry, os.environ.get("LOCAL_ECR_REFERRERS", "1") != "0")
        # PutImage and the registry's manifest PUTs: one bucket per account and region (throttle.py)
        rate = throttle.rate_of(os.environ.get("LOCAL_ECR_PUT_RATE"))
        burst = throttle.rate_of(os.environ.get("LOCAL_ECR_PUT_BURST"), rate * throttle.DEFAULT_BURST_SECONDS)
        self.throttle = throttle.Throttle(rate, burst)
        self.face.throttle = self.throttle
        self.access = Access(self.tokens, self.ecr, self.moto_port)  # cross-account policies (access.py)
        self.face.access = self.access
        self._state = state
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        # Faults a test asks for (POST /_bridge/faults), see set_faults.
        self.faults: dict[str, Any] = {}
        self._faults_lock = threading.Lock()
        self._pushes_seen = 0
        self.pages = Pages()
        self._known: set[tuple[Scope, str]] = set()  # repositories moto has: the face asks on every request
        self.settings = Settings(state.ecr_state)
        # lifecycle policies with ECR's current schema, which moto refuses (lifecycle.py)
        self.lifecycle = Lifecycle(state.root / "lifecycle.json", self.exists, self.settings)
        self.scans = Scans()  # image scans a test set (POST /_bridge/scans), see scans.py
        self.instance = imds.Instance.from_state(state)  # the instance metadata's role keys (imds.py)
        # ECR's replication between the stack's registries (replication.py)
        self.replication = Replication(self, state.root / "replication.json")
        # pull times, storage classes, pull-time exclusions (pulls.py), kept across restarts
        self.images = Images(state.ecr_state.with_name("image-state.json"), self.ecr)
        self.face.images = self.images
        # repository creation templates, and the repositories they create on push (templates.py)
        self.templates = Templates(state.root / "templates.json", self)
        self.replication.created_by_template = lambda scope, repo: self.templates.create_for(scope, repo, "REPLICATION")

    def ecr(self, account: str, region: str) -> Any:
        """A boto3 ECR client on moto as ACCOUNT in REGION, for the bridge's own calls (not counted)."""
        with self._clients_lock:
            if (account, region) not in self._clients:
                import boto3  # imported here so `--help` stays quick

                client = boto3.client(
                    "ecr",
                    endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                    region_name=region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )

                def as_account(request: Any, **_: Any) -> None:
                    request.headers["x-moto-account-id"] = account

                client.meta.events.register("before-send.ecr", as_account)
                self._clients[(account, region)] = client
            return self._clients[(account, region)]

    # -- what the registry's face asks of the ECR API -------------------------------------------------

    def exists(self, scope: Scope, repository: str, push: str = "") -> bool:
        """Whether SCOPE has REPOSITORY; a PUSH to it ("POST blobs", "PUT manifests") that does not may have
        a creation template create it (templates.py)."""
        if (scope, repository) in self._known:
            return True
        try:
            self.ecr(scope.account, scope.region).describe_repositories(repositoryNames=[repository])
        except Exception:  # noqa: BLE001 - RepositoryNotFoundException, or a name ECR would refuse
            return bool(push) and self.templates.create_on_push(scope, repository, *push.split())
        self._known.add((scope, repository))
        return True

    def immutable(self, scope: Scope, repository: str) -> bool:
        reply = self.ecr(scope.account, scope.region).describe_repositories(repositoryNames=[repository])
        return bool(reply["repositories"][0].get("imageTagMutability") == "IMMUTABLE")

    def blob_mounting(self, scope: Scope) -> bool:
        """Whether SCOPE's registry mounts blobs across its repositories (PutAccountSetting BLOB_MOUNTING)."""
        return self.settings.account_setting(scope, "BLOB_MOUNTING") == "ENABLED"

    def forget(self, scope: Scope, repository: str) -> None:
        self._known.discard((scope, repository))

    def restore(self) -> None:
        """Put back the repositories (and their settings) of before a restart, then their images."""
        for scope, name, saved in self.settings.all():
            client = self.ecr(scope.account, scope.region)
            params = {k: v for k, v in saved.items() if k not in ("lifecyclePolicyText", "policyText")}
            try:
                client.create_repository(repositoryName=name, **params)
            except Exception:  # noqa: BLE001 - already there (moto kept it)
                pass
            if saved.get("lifecyclePolicyText"):
                client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=saved["lifecyclePolicyText"])
            if saved.get("policyText"):  # who else may pull and push (access.py)
                client.set_repository_policy(repositoryName=name, policyText=saved["policyText"])
            self.mirror.sync(scope.internal(name))
            log.info("restored %s in %s/%s", name, scope.account, scope.region)

    def count(self, action: str) -> None:
        with self._stats_lock:
            self._stats[action] += 1

    def stats(self) -> dict[str, int]:
        with self._stats_lock:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()

    def health(self) -> dict[str, bool]:
        try:
            socket.create_connection(("127.0.0.1", self.moto_port), timeout=2).close()
            moto = True
        except OSError:
            moto = False
        return {"moto": moto, "registry": self.registry.ping()}

    def set_faults(self, doc: dict[str, Any]) -> None:
        """Replace the faults; {} clears them. Keys, each optional:

        deny: [ACTION, ...]            those ECR actions answer AccessDeniedException
        token_password: TEXT           GetAuthorizationToken hands out a password the registry refuses...
        token_count: N                 ...for the next N tokens only (default: until cleared)
        error: {action, status, code, count}   ACTION answers HTTP STATUS with error CODE (default
                                       ServerException for 5xx, ThrottlingException otherwise), COUNT
                                       times (default: until cleared): a failing or throttling ECR
        rotate_after_pushes: N         after the registry reports N tag pushes, rotate its password
                                       (as ECR does when a token expires or is revoked mid-run)
        """
        with self._faults_lock:
            self.faults = dict(doc)
            self._pushes_seen = 0

    def token(self, scope: Scope, principal: str = "") -> tuple[str, int]:
        """The registry password for SCOPE (base64 of AWS:PASSWORD, as ECR hands it out) and its expiry;
        it names the PRINCIPAL that asked, whose pulls may be excluded from pull times (pulls.py)."""
        with self._faults_lock:
            password = self.faults.get("token_password")
            if password and "token_count" in self.faults:
                self.faults["token_count"] -= 1
                if self.faults["token_count"] <= 0:
                    del self.faults["token_password"], self.faults["token_count"]
        issued, expires = self.tokens.issue(scope.account, scope.region, principal=principal)
        return base64.b64encode(f"AWS:{password or issued}".encode()).decode(), expires

    def denied(self, action: str) -> bool:
        return action in set(self.faults.get("deny") or ())

    def injected_error(self, action: str) -> Answer | None:
        """The error a test asked ACTION to answer with, counting it down; None to serve it."""
        with self._faults_lock:
            error = self.faults.get("error")
            if not isinstance(error, dict) or error.get("action") != action:
                return None
            if "count" in error:
                if error["count"] <= 0:
                    return None
                error["count"] -= 1
        status = int(error.get("status", 500))
        code = str(error.get("code") or ("ServerException" if status >= 500 else "ThrottlingException"))
        message = "Rate exceeded" if "Throttl" in code else "local-ecr injected fault"
        return ecr_error(status, code, message)

    def pushed(self) -> None:
        """A tag push the registry reported: rotate the password once the fault's count is reached."""
        with self._faults_lock:
            wanted = self.faults.get("rotate_after_pushes")
            if not wanted:
                return
            self._pushes_seen += 1
            if self._pushes_seen < int(wanted):
                return
            del self.faults["rotate_after_pushes"]
        self.rotate_password()

    def rotate_password(self) -> None:
        """Revoke every registry password handed out so far, as ECR does when a token is revoked."""
        self.tokens.revoke()
        log.info("registry passwords revoked")


def _follow_the_registry(bridge: Bridge, face: BridgeServer) -> None:
    """The plain face takes connections only while the docker-registry does: stopped or killed (the
    fault tests), the registry is gone for its clients too, as a dead registry host would be."""
    address = face.server_address
    serving: BridgeServer | None = None
    while True:
        try:
            socket.create_connection(("127.0.0.1", bridge.registry.port), timeout=1).close()
            alive = True
        except OSError:
            alive = False
        if alive and serving is None:
            serving = face if face.socket.fileno() >= 0 else BridgeServer(address, bridge, "registry")  # type: ignore[arg-type]
            threading.Thread(target=serving.serve_forever, daemon=True).start()
        elif not alive and serving is not None:
            serving.shutdown()
            serving.server_close()
            serving = None
            log.info("the docker-registry is down: the plain registry face stopped taking connections")
        time.sleep(0.2)


def _flush_on_term(bridge: Bridge) -> None:
    """`local-ecr down` sends SIGTERM: what is written lazily (pull times, pulls.py) is written first."""

    def on_term(signum: int, frame: Any) -> None:
        try:
            bridge.images.flush()
        finally:
            os._exit(128 + signum)  # as the signal's default action ends the process

    signal.signal(signal.SIGTERM, on_term)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localecr.bridge", description=__doc__.split("\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="the stack's state folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines repeat ours
    logging.getLogger("botocore").setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    state = State(args.state)
    bridge = Bridge(state)
    ThreadedMotoServer(ip_address="127.0.0.1", port=bridge.moto_port, verbose=False).start()
    ports = state.ports()
    servers = [
        BridgeServer(("127.0.0.1", ports.api), bridge, "api"),
        BridgeServer(("127.0.0.1", ports.registry), bridge, "registry"),
    ]
    if not state.plain:
        import ssl

        tls = BridgeServer((FRONT_IP, 443), bridge, "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(state.server_cert, state.server_key)
        tls.socket = context.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
        # The engine takes a registry on a loopback address for an insecure one: after an https
        # refusal it tries http too, and reports what that says. The same face answers there.
        servers += [tls, BridgeServer((FRONT_IP, 80), bridge, "http")]
    bridge.restore()
    _flush_on_term(bridge)
    imds.serve(bridge.instance, ports.imds)  # on loopback only; never 169.254.169.254
    for server in servers[2:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=_follow_the_registry, args=(bridge, servers[1]), daemon=True).start()
    log.info(
        "bridge on 127.0.0.1:%d, registry face on 127.0.0.1:%d%s, moto on 127.0.0.1:%d",
        ports.api,
        ports.registry,
        "" if state.plain else f", ECR's names on {FRONT_IP}:443",
        bridge.moto_port,
    )
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
