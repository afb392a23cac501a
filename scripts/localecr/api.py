"""The ECR and STS APIs: a call goes to moto as the account whose access key signed it, unchanged but for
the few ECR calls that must agree with the registry (mirror.py), GetAuthorizationToken (whose password
the registry's face checks), the listings ECR pages, and the refusals of keys the stack does not know.

``ApiCalls`` is the part of the bridge's request handler (handler.py) that answers them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import body as request_body
from . import imds
from .access import principal_of
from .answer import ECR_JSON, NOT_FORWARDED, Answer, ecr_error, end_to_end, json_answer
from .face import Scope
from .lifecycle import ACTIONS as LIFECYCLE_ACTIONS
from .mirror import MissingLayers, manifest_digest
from .pulls import caller_arn
from .registry import MANIFEST_TYPES
from .replication import ACTIONS as REPLICATION_ACTIONS
from .scans import page_size
from .state import ACCOUNT_ID, REGION
from .subjects import SUBJECTS
from .templates import ACTIONS as TEMPLATE_ACTIONS
from .throttle import MESSAGE as RATE_EXCEEDED

if TYPE_CHECKING:
    from .bridge import Bridge

ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/\s,]+)/\d{8}/(?P<region>[a-z0-9-]+)/")
# the ECR calls whose success changes what a repository is: kept in ecr-state.json across restarts
_SETTINGS_CALLS = {
    "CreateRepository",
    "DeleteRepository",
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
    "PutLifecyclePolicy",
    "DeleteLifecyclePolicy",
    "SetRepositoryPolicy",
    "DeleteRepositoryPolicy",
}
# The listings ECR answers a page at a time, and the key of each one's items
_PAGED = {"DescribeImages": "imageDetails", "ListImages": "imageIds", "DescribeRepositories": "repositories"}
# storage classes and pull-time exclusions, which moto lacks: answered by the bridge (pulls.py)
_IMAGE_STATE_CALLS = {
    "UpdateImageStorageClass",
    "RegisterPullTimeUpdateExclusion",
    "DeregisterPullTimeUpdateExclusion",
    "ListPullTimeUpdateExclusions",
}


class ApiCalls:
    """Answers an ECR or STS call; mixed into the request handler, whose request it reads."""

    bridge: Bridge
    command: str
    path: str
    headers: Any
    scope: Scope
    caller: imds.Caller
    principal: str  # the caller's STS ARN: its pulls may be excluded from pull times (pulls.py)
    close_connection: bool

    if TYPE_CHECKING:  # what the handler provides (handler.py)
        wfile: Any

        def _body(self) -> Iterator[bytes]: ...

        def _send(self, answer: Answer) -> None: ...

        def send_response(self, code: int, message: str | None = None) -> None: ...

        def send_header(self, keyword: str, value: str) -> None: ...

        def end_headers(self) -> None: ...

    def _api(self, keep_alive: bool) -> str:
        """Answer the API call; returns its action's name (for the log)."""
        target = self.headers.get("X-Amz-Target", "")
        caller = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        # a stack account's key, or the instance role's with its session token (imds.py)
        token = self.headers.get("X-Amz-Security-Token")
        who = self.bridge.instance.caller(caller["key"], token) if caller else imds.Caller(None)
        account = who.account
        self.caller = who
        self.scope = Scope(account.account_id if account else ACCOUNT_ID, caller["region"] if caller else REGION)
        session = self.bridge.instance.instance_id if who.role_key else None
        self.principal = caller_arn(account.account_id, session) if account else ""
        if not (target or "x-www-form-urlencoded" in self.headers.get("Content-Type", "")):
            action = _query_action(self.path, b"")
            self.bridge.count(action)
            self._relay()
            return action
        # JSON and query API calls are small: read them whole to know and rewrite them
        body = b"".join(self._body())
        self.close_connection = not keep_alive  # read whole, answered with a Content-Length
        action = target.rpartition(".")[2] if target else _query_action(self.path, body)
        self.bridge.count(action)
        injected = self.bridge.injected_error(action) if target.startswith(ECR_TARGET) else None
        if account is None:
            refusal = _expired if who.expired else _unrecognized
            self._send(refusal(json_protocol=bool(target)))
        elif injected is not None:
            self._send(injected)
        elif target.startswith(ECR_TARGET) and self.bridge.denied(action):
            self._send(_access_denied(action, body, self.scope))
        elif target.startswith(ECR_TARGET):
            self._send(self._ecr(action, body))
        elif who.role_key and action == "GetCallerIdentity":  # moto knows no instance role
            self._send(Answer(200, [("Content-Type", "text/xml")], self.bridge.instance.caller_identity()))
        else:
            self._send(self._forward(body))
        return action

    # -- ECR calls that touch the registry ---------------------------------------------------------

    def _ecr(self, action: str, body: bytes) -> Answer:
        params = json.loads(body or b"{}")
        # another account's registry (registryId): its policies decide, and the call runs as that account
        principal = principal_of(self.caller, self.bridge.instance.instance_id)
        refusal, self.scope = self.bridge.access.api(principal, self.scope, action, params)
        if refusal is not None:
            return refusal
        repo = str(params.get("repositoryName", ""))
        name = self.scope.internal(repo)  # the registry's name for it
        mirror = self.bridge.mirror
        forward: Callable[[], Answer] = lambda: self._forward(body)  # noqa: E731

        if action in LIFECYCLE_ACTIONS:  # moto refuses ECR's current lifecycle schema (lifecycle.py)
            return self.bridge.lifecycle.answer(action, self.scope, params)
        if action in TEMPLATE_ACTIONS:  # moto has no repository creation templates (templates.py)
            return self.bridge.templates.answer(action, self.scope, params)
        if action == "GetAuthorizationToken":
            return self._authorization_token(forward())
        if action in ("PutAccountSetting", "GetAccountSetting") and params.get("name") == "BLOB_MOUNTING":
            return self._blob_mounting(action, params)
        if action in ("StartImageScan", "DescribeImageScanFindings"):
            answer_json = lambda status, doc: json_answer(status, doc, ECR_JSON)  # noqa: E731
            scans = self.bridge.scans
            return scans.answer(action, self.scope, params, forward, self.bridge.pages, answer_json, ecr_error)
        if action in REPLICATION_ACTIONS:  # moto keeps one rule, in memory, and replicates nothing
            return self.bridge.replication.answer(action, self.scope, params)
        if action in _IMAGE_STATE_CALLS:
            if action == "UpdateImageStorageClass":
                mirror.sync(name)
            return self.bridge.images.answer(action, self.scope, params)
        if action in _PAGED and params.get("nextToken"):
            return self._next_page(action, params)  # from the snapshot the first page took
        if action in ("DescribeImages", "ListImages", "BatchGetImage"):
            mirror.sync(name)
            answer = self.bridge.images.decorate(action, self.scope, params, forward(), self.principal)
            if action in _PAGED:
                answer = self._first_page(action, params, answer)
            return self._image_sizes(answer, name) if action == "DescribeImages" else answer
        if action in _PAGED:
            return self._first_page(action, params, forward())
        if action == "BatchDeleteImage":
            if len(params.get("imageIds") or []) > 100:
                return ecr_error(
                    400,
                    "InvalidParameterException",
                    "Invalid parameter at 'imageIds' failed to satisfy constraint: "
                    "'Member must have length less than or equal to 100'",
                )
            answer = mirror.delete_images(name, forward)
            return self.bridge.images.decorate(action, self.scope, params, answer, self.principal)
        if action == "PutImage":
            refusal = _put_image_limits(params)
            if refusal is not None:
                return refusal
            wait = self.bridge.throttle.take(self.scope.account, self.scope.region)
            if wait is not None:  # ECR's ThrottlingException, its type in x-amzn-ErrorType too (throttle.py)
                extra = [("x-amzn-ErrorType", "ThrottlingException"), ("Retry-After", str(wait))]
                return ecr_error(400, "ThrottlingException", RATE_EXCEEDED, extra)
            answer = self._put_image(params, name)
            if answer.status == 200:  # a push of an archived image restores it
                self.bridge.images.pushed(self.scope, repo, str(params.get("imageDigest")))
            return answer
        if action == "DeleteRepository":
            answer = mirror.delete_repository(name, forward)
        elif action == "CreateRepository":
            answer = mirror.create_repository(name, forward)
        else:
            answer = forward()
        if action in _SETTINGS_CALLS and answer.status == 200:
            self.bridge.settings.record(self.scope, action, params)
            if action == "DeleteRepository":
                self.bridge.forget(self.scope, repo)
                self.bridge.images.forget(self.scope, repo)
                self.bridge.lifecycle.forget(self.scope, repo)
        return answer

    def _blob_mounting(self, action: str, params: dict[str, Any]) -> Answer:
        """The registry's BLOB_MOUNTING setting (moto has no account settings): DISABLED until put, as ECR's."""
        settings = self.bridge.settings
        if action == "PutAccountSetting":
            value = params.get("value")
            if value not in ("ENABLED", "DISABLED"):
                message = f"Invalid value '{value}' for setting 'BLOB_MOUNTING'. Valid values are ENABLED, DISABLED"
                return ecr_error(400, "ValidationException", message)
            settings.put_account_setting(self.scope, "BLOB_MOUNTING", str(value))
        value = settings.account_setting(self.scope, "BLOB_MOUNTING") or "DISABLED"
        return json_answer(200, {"name": "BLOB_MOUNTING", "value": value}, ECR_JSON)

    # -- pages, as ECR gives them (moto answers everything at once) -------------------------------

    def _first_page(self, action: str, params: dict[str, Any], answer: Answer) -> Answer:
        key = _PAGED[action]
        if answer.status != 200 or params.get("imageIds") or params.get("repositoryNames"):
            return answer  # an error, or a lookup by id or name: ECR does not page those
        limit = page_size(params)
        if limit is None:
            return ecr_error(400, "InvalidParameterException", "maxResults must be between 1 and 1000")
        return self._page(key, answer.json().get(key) or [], 0, limit)

    def _next_page(self, action: str, params: dict[str, Any]) -> Answer:
        limit = page_size(params)
        found = self.bridge.pages.get(str(params["nextToken"]))
        if limit is None or found is None:
            return ecr_error(400, "InvalidParameterException", "Invalid parameter: nextToken or maxResults")
        items, offset = found
        return self._page(_PAGED[action], items, offset, limit)

    def _page(self, key: str, items: list[Any], offset: int, limit: int) -> Answer:
        doc: dict[str, Any] = {key: items[offset : offset + limit]}
        if offset + limit < len(items):
            doc["nextToken"] = self.bridge.pages.keep(items, offset + limit)
        return json_answer(200, doc, ECR_JSON)

    def _authorization_token(self, answer: Answer) -> Answer:
        if answer.status != 200:
            return answer
        doc = answer.json()
        for data in doc.get("authorizationData", []):
            data["authorizationToken"], data["expiresAt"] = self.bridge.token(self.scope, self.principal)
        return answer.with_json(doc)

    def _image_sizes(self, answer: Answer, name: str = "") -> Answer:
        # moto reports the config blob's size; ECR reports the layers', which the mirror knows
        if answer.status != 200:
            return answer
        doc = answer.json()
        for detail in doc.get("imageDetails", []):
            size = self.bridge.mirror.sizes.get(detail.get("imageDigest", ""))
            if size:
                detail["imageSizeInBytes"] = size
        SUBJECTS.name(doc, self.bridge.registry, name)  # and each referrer's subject (subjects.py)
        return answer.with_json(doc)

    def _put_image(self, params: dict[str, Any], name: str) -> Answer:
        manifest = str(params.get("imageManifest", "")).encode()
        media_type = params.get("imageManifestMediaType") or _declared_media_type(manifest)
        # the registry will name the manifest by its sha256, so moto must use the same digest
        params.setdefault("imageDigest", manifest_digest(manifest))
        body = json.dumps(params).encode()
        try:
            return self.bridge.mirror.put_image(
                name, params.get("imageTag"), manifest, media_type, lambda: self._forward(body)
            )
        except MissingLayers as err:
            return ecr_error(400, "LayersNotFoundException", str(err))

    # -- talking to moto ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _moto_request(self, body: bytes | Iterator[bytes], length: int | None) -> Iterator[http.client.HTTPResponse]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
        headers["Connection"] = "close"
        headers["x-moto-account-id"] = self.scope.account  # moto answers as the signing key's account
        if length is not None:
            headers["Content-Length"] = str(length)
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.moto_port, timeout=300)
        try:
            # with no Content-Length, http.client sends an iterator chunked, as it came in
            conn.request(self.command, self.path, body=body, headers=headers)
            yield conn.getresponse()
        finally:
            conn.close()

    def _forward(self, body: bytes) -> Answer:
        with self._moto_request(body, len(body)) as resp:
            return Answer(resp.status, end_to_end(resp.getheaders()), resp.read())

    def _relay(self) -> None:
        """Pass a request of any size through in blocks (S3 uploads, say, if someone tries)."""
        length = request_body.length(self.headers)
        with self._moto_request(self._body(), length) as resp:
            self.send_response(resp.status)
            for key, value in end_to_end(resp.getheaders()):
                self.send_header(key, value)
            if resp.getheader("Content-Length"):
                self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                while block := resp.read(request_body.BLOCK):
                    self.wfile.write(block)


def _put_image_limits(params: dict[str, Any]) -> Answer | None:
    """ECR's limits on PutImage (its API reference): a tag of 1..300 characters, a manifest of at most
    4 MiB (4194304 characters); moto checks neither."""
    for key, most in (("imageTag", 300), ("imageManifest", 4 * 1024 * 1024)):
        value = params.get(key)
        if value is not None and len(str(value)) > most:
            constraint = f"Member must have length less than or equal to {most}"
        elif key == "imageTag" and value is not None and not str(value):
            constraint = "Member must have length greater than or equal to 1"
        elif key == "imageTag" and value is not None and len(str(value)) > 128:
            # ECR takes it; the docker-registry behind the stand-in cannot hold it: said plainly, before moto has it
            message = "local-ecr: its registry (distribution) holds tags of at most 128 characters; ECR takes 300"
            return ecr_error(400, "InvalidParameterException", message)
        else:
            continue
        return ecr_error(
            400,
            "InvalidParameterException",
            f"Invalid parameter at '{key}' failed to satisfy constraint: '{constraint}'",
        )
    return None


def _access_denied(action: str, body: bytes, scope: Scope) -> Answer:
    repo = json.loads(body or b"{}").get("repositoryName", "*")
    return ecr_error(
        400,
        "AccessDeniedException",
        f"User: arn:aws:iam::{scope.account}:user/tester is not authorized to perform: ecr:{action} "
        f"on resource: arn:aws:ecr:{scope.region}:{scope.account}:repository/{repo} because no identity-based "
        f"policy allows the ecr:{action} action",
    )


def _unrecognized(*, json_protocol: bool) -> Answer:
    """An access key none of the stack's accounts has, as ECR (JSON) or STS (query, XML) say it."""
    message = "The security token included in the request is invalid."
    if json_protocol:
        return ecr_error(400, "UnrecognizedClientException", message)
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>InvalidClientTokenId</Code><Message>{message}</Message></Error></ErrorResponse>"
    ).encode()
    return Answer(403, [("Content-Type", "text/xml")], body)


def _expired(*, json_protocol: bool) -> Answer:
    """The instance role's keys past their Expiration, as ECR (JSON) or STS (query, XML) say it."""
    if json_protocol:
        return ecr_error(400, "ExpiredTokenException", imds.EXPIRED_MESSAGE)
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>ExpiredToken</Code><Message>{imds.EXPIRED_MESSAGE}</Message></Error></ErrorResponse>"
    ).encode()
    return Answer(403, [("Content-Type", "text/xml")], body)


def _query_action(path: str, body: bytes) -> str:
    """The Action of a query-protocol call (STS), from the form body or the query string."""
    for text in (body.decode("utf-8", "replace"), urllib.parse.urlsplit(path).query):
        action = urllib.parse.parse_qs(text).get("Action")
        if action:
            return action[0]
    return "(other)"


def _declared_media_type(manifest: bytes) -> str:
    try:
        return str(json.loads(manifest).get("mediaType") or MANIFEST_TYPES[0])
    except (ValueError, AttributeError):
        return MANIFEST_TYPES[0]
