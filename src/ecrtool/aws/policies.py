"""The ECR gateway's policy calls: a repository's policy and the registry's, read, put and deleted
(Get/Set/DeleteRepositoryPolicy, Get/Put/DeleteRegistryPolicy); "no policy" is an answer (None), not an error."""

from __future__ import annotations

from typing import Any

from ecrtool.aws.errors import translate

_ABSENT = ("RepositoryPolicyNotFoundException", "RegistryPolicyNotFoundException")


def _code(err: Exception) -> str:
    response = getattr(err, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class Policies:
    """Wraps one boto3 ECR client; REGISTRY_ID names another account's registry (its repository policies)."""

    def __init__(self, client: Any, registry_id: str | None = None) -> None:
        self._client = client
        self._registry_id = registry_id

    def _ids(self) -> dict[str, str]:
        return {"registryId": self._registry_id} if self._registry_id else {}

    def repository_policy(self, repository: str) -> str | None:
        with translate("ecr:GetRepositoryPolicy", repository=repository):
            try:
                return str(self._client.get_repository_policy(repositoryName=repository, **self._ids())["policyText"])
            except Exception as err:
                if _code(err) in _ABSENT:
                    return None
                raise

    def set_repository_policy(self, repository: str, text: str) -> None:
        with translate("ecr:SetRepositoryPolicy", repository=repository):
            self._client.set_repository_policy(repositoryName=repository, policyText=text, **self._ids())

    def delete_repository_policy(self, repository: str) -> None:
        with translate("ecr:DeleteRepositoryPolicy", repository=repository):
            self._client.delete_repository_policy(repositoryName=repository, **self._ids())

    def registry_policy(self) -> str | None:
        """The registry policy of the CALLER's registry (ECR has no registryId for it)."""
        with translate("ecr:GetRegistryPolicy"):
            try:
                return str(self._client.get_registry_policy()["policyText"])
            except Exception as err:
                if _code(err) in _ABSENT:
                    return None
                raise

    def put_registry_policy(self, text: str) -> None:
        with translate("ecr:PutRegistryPolicy"):
            self._client.put_registry_policy(policyText=text)

    def delete_registry_policy(self) -> None:
        with translate("ecr:DeleteRegistryPolicy"):
            self._client.delete_registry_policy()
