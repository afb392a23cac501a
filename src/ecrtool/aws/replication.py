"""The ECR calls of replication (DescribeRegistry, PutReplicationConfiguration, DescribeImageReplicationStatus)
and of a registry's policy, over one boto3 ECR client, as the project's results and errors."""

from __future__ import annotations

from typing import Any

from ecrtool.aws.errors import translate
from ecrtool.model.replication import ReplicationConfig, rules_from_api

_NO_POLICY = "RegistryPolicyNotFoundException"


class ReplicationApi:
    def __init__(self, client: Any, region: str) -> None:
        self._client = client
        self._region = region

    def configuration(self) -> ReplicationConfig:
        with translate("ecr:DescribeRegistry"):
            reply = self._client.describe_registry()
        return ReplicationConfig(
            str(reply.get("registryId", "")), self._region, rules_from_api(reply.get("replicationConfiguration"))
        )

    def put_configuration(self, config: ReplicationConfig) -> None:
        with translate("ecr:PutReplicationConfiguration"):
            self._client.put_replication_configuration(replicationConfiguration=config.to_api())

    def image_status(self, repository: str, digest: str) -> list[dict[str, str]]:
        """DescribeImageReplicationStatus's statuses of the image DIGEST (region, registryId, status, failureCode)."""
        with translate("ecr:DescribeImageReplicationStatus", repository=repository):
            reply = self._client.describe_image_replication_status(
                repositoryName=repository, imageId={"imageDigest": digest}
            )
        return list(reply.get("replicationStatuses") or [])

    def registry_policy(self) -> str | None:
        """This registry's policy text; None when it has none."""
        with translate("ecr:GetRegistryPolicy"):
            try:
                reply = self._client.get_registry_policy()
            except Exception as err:
                response = getattr(err, "response", None)
                if isinstance(response, dict) and response.get("Error", {}).get("Code") == _NO_POLICY:
                    return None
                raise
        return str(reply["policyText"])

    def put_registry_policy(self, text: str) -> None:
        with translate("ecr:PutRegistryPolicy"):
            self._client.put_registry_policy(policyText=text)
