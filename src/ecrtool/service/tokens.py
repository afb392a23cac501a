"""Registry tokens: from the cache while fresh, else from AWS; naming the registry a token is for; logging in.

A token can be refused while a command runs (expired early, revoked, rotated): the cache entries the
command used are then dropped (`_forget_tokens`), so the next try fetches a fresh one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from ecrtool.aws.ecr import Ecr, public_authorization_token
from ecrtool.model import token_cache
from ecrtool.model.auth import AuthToken, RegistryAuth
from ecrtool.model.errors import AuthError, InvalidInput
from ecrtool.model.refs import PUBLIC_HOST, RepoRef, endpoint_host, parse_ecr_host, registry_host
from ecrtool.model.results import LoginResult
from ecrtool.service.base import ServiceBase, Target
from ecrtool.service.login import log_in, token_registry

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from ecrtool.registry.client import RegistryClient

_RENEWING = threading.Lock()


class Tokens(ServiceBase):
    def _identity(self, target: Target | None = None) -> str:
        """Who asks for tokens, as the cache names them: from the environment, else from botocore's session;
        for TARGET, the identity chosen for its registry (a profile the config file names for it)."""
        profile = target.profile.profile if target and target.profile else self.settings.profile
        aws = target.aws if target and target.aws else self.aws
        return token_cache.environment_identity(os.environ, profile) or aws.identity()

    def _token(
        self,
        region: str,
        account: str | None,
        fetch: Callable[[], AuthToken],
        *,
        service: str = "ecr",
        renew: bool = False,
        target: Target | None = None,
    ) -> AuthToken:
        """The one way to a registry token: the cache's while it is fresh, else FETCH's, kept for next time.
        With RENEW, FETCH's in any case, replacing the cache's (which stays readable meanwhile)."""
        if self.settings.no_cache:
            return fetch()
        identity = self._identity(target)
        key = token_cache.make_key(account, region, identity, service=service)
        self._token_keys.append(key)
        if renew:
            token, was_cached = fetch(), False
            token_cache.store(key, token)
        else:
            token, was_cached = token_cache.cached(key, fetch)
        named = endpoint_host(token.proxy_endpoint)
        if account is None and named is not None:
            # the caller's default registry: kept under its account too, where the credential helper looks
            alias = token_cache.make_key(named.account, region, identity, service=service)
            self._token_keys.append(alias)
            if not was_cached:
                token_cache.store(alias, token)
        return token

    def _forget_tokens(self) -> None:
        """The registry refused a token: drop the ones this command used, so the next try fetches anew."""
        for key in self._token_keys:
            token_cache.forget(key)

    def _registry(self, target: Target, proxy_endpoint: str | None = None) -> str:
        """The registry host of TARGET: named by the settings, the account, the token's endpoint or a cached
        token's; asking STS for the caller's account only when none of them names it."""
        host = token_registry(self.settings.registry_override, target.account, target.region, proxy_endpoint)
        if host is None and proxy_endpoint is None and not self.settings.no_cache:
            cached = token_cache.load(token_cache.make_key(target.account, target.region, self._identity(target)))
            host = token_registry(None, None, target.region, cached.proxy_endpoint if cached else None)
        return host or registry_host((target.aws or self.aws).caller_account(), target.region)

    def _auth(self, target: Target, *, renew: bool = False) -> RegistryAuth:
        """TARGET's registry and its credentials; with RENEW a token straight from ECR (the cached one was refused)."""
        token = self._token(target.region, target.account, target.ecr.authorization_token, renew=renew, target=target)
        host = self._registry(target, token.proxy_endpoint)
        return RegistryAuth(registry=host, username=token.username, password=token.password)

    def login(self, *, public: bool = False) -> LoginResult:
        if public:
            # ecr-public's GetAuthorizationToken lives in us-east-1 whatever --region says
            host = self.settings.public_registry_override or PUBLIC_HOST
            token = self.registry_token(PUBLIC_HOST)
        else:
            target = self._target()
            token = self._token(target.region, target.account, target.ecr.authorization_token, target=target)
            host = self._registry(target, token.proxy_endpoint)
        try:
            stored = log_in(self.docker, host, token)
        except AuthError:
            self._forget_tokens()
            raise
        return LoginResult(registry=host, username=token.username, expires_at=token.expires_at, stored_in=stored)

    def registry_token(self, host: str) -> AuthToken:
        """The credential helper's `get`: the token for the registry at HOST, from the cache while fresh.

        HOST is ECRTOOL_REGISTRY's (the settings' account and region), an ECR registry's own name (its
        account and region), or public.ecr.aws. The region is read from the settings and the environment
        before boto3 is loaded, in the order `ecrtool login` reads it, so both use the same cached token.
        """
        if host == PUBLIC_HOST:
            return self._token(
                "us-east-1",
                "public",
                lambda: public_authorization_token(self.aws.client("ecr-public", "us-east-1")),
                service="ecr-public",
            )
        if self.settings.registry_override and host == self.settings.registry_override:
            region = self.aws.region(self.settings.region)
            account = self.settings.registry_id
        else:
            found = parse_ecr_host(host)
            if found is None:
                raise InvalidInput(f"{host} is not an ECR registry: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com")
            region, account = found.region, found.account
        choice = self.profile_for(account, region)
        aws = self._session_of(choice)
        ecr = Ecr(aws.lazy_client("ecr", region), registry_id=account, signed=None)
        target = Target(region=region, account=account, ecr=ecr, aws=aws, profile=choice)

        def fetch() -> AuthToken:
            # the signed client is made only now: a token from the cache needs no client at all
            signed = aws.signed_ecr(region)
            return Ecr(aws.lazy_client("ecr", region), registry_id=account, signed=signed).authorization_token()

        return self._token(region, account, fetch, target=target)

    def speaker(self, ref: RepoRef) -> Tokens:
        """The service that speaks for REF's registry: this one, whose targets each speak as the identity
        chosen for their registry (ServiceBase.profile_for), so the two sides of a copy may differ."""
        return self

    def registry_client(self, ref: RepoRef, side: str, service: Tokens | None = None) -> RegistryClient:
        """A client of REF's registry holding its token (the cache's when fresh), as SERVICE (else REF's
        speaker), renewing it from ECR when the registry refuses it, as it does a cached token revoked since."""
        from ecrtool.registry.client import RegistryClient  # copy's and inspect's, not a login's

        speaker = service or self.speaker(ref)
        target = speaker._target(ref)
        auth = speaker._auth(target)

        def renew(refused: tuple[str, str]) -> tuple[str, str]:
            with _RENEWING:  # one fresh token for every client that held the refused one
                held = speaker._auth(target)
                if (held.username, held.password) != refused:
                    return held.username, held.password
                fresh = speaker._auth(target, renew=True)
                return fresh.username, fresh.password

        return RegistryClient(
            auth.registry, side=side, basic=(auth.username, auth.password), preemptive=True, renew=renew
        )
