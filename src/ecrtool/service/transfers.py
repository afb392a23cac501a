"""Moving images between the Docker engine and ECR: tag, push, pull and run, with their progress.

The engine does the moving; this drains its event stream into progress events, reads the digest off
it, turns its error events into the project's errors, and replaces a token the registry refuses mid-way
(once per command). A registry that stops taking connections while the engine retries is reported at
once, not after the engine's own minute of retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from ecrtool.docker.errors import is_auth_failure, refused
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import AuthError, EcrToolError, InvalidInput, NotFound, RegistryError
from ecrtool.model.refs import PUBLIC_HOST, RepoRef, parse_local_image, parse_repo_ref, push_targets
from ecrtool.model.results import Progress, ProgressEvent, PullResult, PushResult, RunResult, TagResult
from ecrtool.registry.probe import unreachable
from ecrtool.service.base import Target
from ecrtool.service.retag import tags_holding
from ecrtool.service.tokens import Tokens

if TYPE_CHECKING:
    from ecrtool.model.containers import Output, RunSpec

Start = Callable[[RegistryAuth], Iterator[dict[str, Any]]]

# While the engine retries a failed upload or download, how often to check that the registry still
# takes connections at all.
PROBE_INTERVAL = 5.0


class Transfers(Tokens):
    def tag(self, image_text: str, repo: str | None, tags: tuple[str, ...]) -> TagResult:
        image = parse_local_image(image_text)
        repo_ref = self._repo_option(repo)
        repository, chosen = push_targets(image, repo_ref.repository if repo_ref else None, tags)
        details = self._local_image(image.text)
        remote = f"{self._registry(self._target(repo_ref))}/{repository}"
        for tag in chosen:
            self.docker.tag(details, remote, tag)
        return TagResult(source=image.text, references=[f"{remote}:{tag}" for tag in chosen])

    def push(
        self,
        image_text: str,
        repo: str | None,
        tags: tuple[str, ...],
        *,
        create: bool = False,
        progress: Progress | None = None,
    ) -> PushResult:
        image = parse_local_image(image_text)
        repo_ref = self._repo_option(repo)
        repository, chosen = push_targets(image, repo_ref.repository if repo_ref else None, tags)
        source = self._local_image(image.text)
        target = self._target(repo_ref)
        info, created = self._ensure_repository(target, repository, create)
        auth = self._auth(target)
        remote = f"{auth.registry}/{repository}"
        # an immutable tag that already names this image: nothing to push (ECR would refuse even the same image)
        held = tags_holding(target.ecr, repository, chosen, source) if info.immutable and not created else {}
        existing = {tag for tag in chosen if self.docker.inspect_image(f"{remote}:{tag}") is not None}
        added: list[str] = []
        references: list[str] = []
        already: list[str] = []
        digest: str | None = None
        size: int | None = None
        try:
            for tag in chosen:
                reference = f"{remote}:{tag}"
                self.docker.tag(source, remote, tag)
                if tag not in existing:
                    added.append(reference)
                if tag in held:
                    found: dict[str, Any] = {"Digest": held[tag].digest, "Size": len(held[tag].text.encode())}
                    already.append(reference)
                else:
                    start = partial(self.docker.push, remote, tag)
                    found, auth = self._transfer(target, auth, "push", reference, start, progress)
                digest = found.get("Digest") or digest
                size = found.get("Size") or size
                references.append(reference)
        except BaseException:
            # Nothing half-done: the local names this push invented go again; the image stays.
            for reference in added:
                try:
                    self.docker.untag(reference)
                except EcrToolError:
                    pass
            raise
        return PushResult(
            registry=auth.registry,
            repository=repository,
            references=references,
            digest=digest,
            size_bytes=size,
            created_repository=created,
            already_there=already,
        )

    def pull(self, ref_text: str, *, progress: Progress | None = None) -> PullResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override, public=True)
        if ref.public:
            return self._pull_public(ref, progress)
        target = self._target(ref)
        auth = self._auth(target)
        remote = f"{auth.registry}/{ref.repository}"
        wanted = ref.digest or ref.tag or "latest"
        reference = f"{remote}@{wanted}" if ref.digest else f"{remote}:{wanted}"
        try:
            start = partial(self.docker.pull, remote, wanted)
            found, auth = self._transfer(target, auth, "pull", reference, start, progress)
        except NotFound as err:
            raise self._explain_missing(target, ref, wanted) from err
        details = self.docker.inspect_image(reference)
        return PullResult(
            reference=reference,
            digest=found.get("Digest") or ref.digest,
            image_id=details.image_id if details else None,
        )

    def _pull_public(self, ref: RepoRef, progress: Progress | None) -> PullResult:
        """A public gallery image, anonymously or with what `ecrtool login --public` stored.

        The engine's client sends stored credentials by itself, so this makes no AWS call at all.
        """
        reference = self._local_reference(ref)
        host = reference.split("/", 1)[0]
        wanted = ref.digest or ref.tag or "latest"
        try:
            events = self.docker.pull(f"{host}/{ref.repository}", wanted, None)
            found = self._follow("pull", reference, host, events, progress)
        except AuthError as err:
            raise AuthError(f"{err}: log in with `ecrtool login --public`, then pull again") from err
        except NotFound as err:
            raise NotFound(f"{err}: check the alias, repository and tag on https://gallery.ecr.aws") from err
        details = self.docker.inspect_image(reference)
        digest = found.get("Digest") or ref.digest
        return PullResult(reference=reference, digest=digest, image_id=details.image_id if details else None)

    def _local_reference(self, ref: RepoRef) -> str:
        """The name the engine knows the image by once pulled."""
        if ref.public:
            host = self.settings.public_registry_override or PUBLIC_HOST
        else:
            host = self._registry(self._target(ref))
        wanted = ref.digest or ref.tag or "latest"
        return f"{host}/{ref.repository}@{wanted}" if ref.digest else f"{host}/{ref.repository}:{wanted}"

    def run(
        self,
        ref_text: str,
        spec: RunSpec,
        *,
        pull: str = "missing",
        output: Output | None = None,
        progress: Progress | None = None,
    ) -> RunResult:
        """Pull REF when the policy says so (authenticating as pull does), then create and start a container."""
        from ecrtool.model.containers import PULL_POLICIES  # only run needs the container rules

        if pull not in PULL_POLICIES:
            raise InvalidInput(f"invalid pull policy {pull!r}: use {', '.join(PULL_POLICIES)}")
        ref = parse_repo_ref(ref_text, self.settings.registry_override, public=True)
        reference = self._local_reference(ref)
        present = pull != "always" and self.docker.inspect_image(reference) is not None
        pulled: PullResult | None = None
        if pull == "always" or (pull == "missing" and not present):
            pulled = self.pull(ref_text, progress=progress)
            reference = pulled.reference
        elif not present:
            raise NotFound(
                f"image {reference} is not on this Docker engine and --pull never forbids fetching it: "
                f"pull it with `ecrtool pull {ref_text}`, or use --pull missing"
            )
        outcome = self.docker.run(replace(spec, image=reference), output)
        return RunResult(
            reference=reference,
            container_id=outcome.container_id,
            exit_code=outcome.exit_code,
            pulled=pulled is not None,
            digest=pulled.digest if pulled else None,
        )

    def _watch_refusals(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        try:
            for event in events:
                if ("error" in event or "errorDetail" in event) and is_auth_failure(str(event)):
                    self._forget_tokens()
                yield event
        except AuthError:
            self._forget_tokens()
            raise

    def _transfer(
        self,
        target: Target,
        auth: RegistryAuth,
        action: str,
        reference: str,
        start: Start,
        progress: Progress | None,
    ) -> tuple[dict[str, Any], RegistryAuth]:
        """One push or pull through the engine, with the credentials it ended up using.

        A token can expire or be revoked while a command runs (a long push of many tags, a cached
        token): when the registry refuses it, fetch a fresh one, once per command, and run the step again.
        """
        try:
            return self._follow(action, reference, auth.registry, start(auth), progress), auth
        except AuthError:
            if self._reauthenticated:
                raise
            self._reauthenticated = True
        self._forget_tokens()  # the refused token may be the cache's: the fresh one must come from ECR
        fresh = self._auth(target)
        try:
            return self._follow(action, reference, fresh.registry, start(fresh), progress), fresh
        except AuthError as err:
            raise AuthError(
                f"{err}; a fresh token from ecr:GetAuthorizationToken was refused as well: check that the"
                " registry belongs to the account and region of your credentials (--registry-id, --region)"
            ) from err

    def _follow(
        self,
        action: str,
        reference: str,
        registry: str,
        events: Iterator[dict[str, Any]],
        progress: Progress | None,
    ) -> dict[str, Any]:
        """Drain the engine's event stream: report progress, collect the digest, raise on an error event."""
        found: dict[str, Any] = {}
        probe_at = 0.0
        for event in self._watch_refusals(events):
            if "error" in event or "errorDetail" in event:
                message = str(event.get("error") or (event.get("errorDetail") or {}).get("message") or "failed")
                raise stream_error(action, reference, registry, message)
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                found["Digest"] = aux["Digest"]
                found["Size"] = aux.get("Size")
                continue
            status = str(event.get("status", ""))
            if status.startswith("Retrying in") and time.monotonic() >= probe_at:
                # The engine retries a failed upload or download for close to a minute. A registry that
                # takes no connections at all is down, not slow: say so now instead.
                probe_at = time.monotonic() + PROBE_INTERVAL
                problem = unreachable(registry)
                if problem:
                    raise RegistryError(
                        f"registry {registry} stopped answering during the {action} of {reference} ({problem}):"
                        f" check that it is up and reachable, then run the {action} again"
                    )
            if status.startswith("Digest: "):
                found["Digest"] = status.removeprefix("Digest: ").strip()
            if progress is not None and status:
                detail = event.get("progressDetail") or {}
                progress(
                    ProgressEvent(
                        action=action,
                        reference=reference,
                        layer=event.get("id"),
                        status=status,
                        current=detail.get("current"),
                        total=detail.get("total"),
                    )
                )
        return found


def stream_error(action: str, reference: str, registry: str, message: str) -> EcrToolError:
    lowered = message.lower()
    if is_auth_failure(lowered):
        if "resource-based policy" in message:  # another account's repository, whose policy lacks a grant
            return refused(action, message)
        return AuthError(f"registry {registry} refused authentication for {action} of {reference}: {message}")
    if "name unknown" in lowered or "manifest unknown" in lowered or "not found" in lowered:
        return NotFound(f"{action} of {reference}: {message}")
    return RegistryError(f"{action} of {reference} to registry {registry} failed: {message}")
