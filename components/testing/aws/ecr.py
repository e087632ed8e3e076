"""ECR repositories, lifecycle policies and registry login tokens in moto."""

from __future__ import annotations

import base64

import pulumi

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import (
    Args,
    CallMirror,
    CallResult,
    Mirror,
    Moto,
    Result,
    params,
    tag_list,
)


def _repository(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a, lower=True)
    encryption = (i.get("encryptionConfigurations") or [None])[0]
    repo = m.client("ecr").create_repository(
        **params(
            repositoryName=name,
            imageTagMutability=i.get("imageTagMutability"),
            imageScanningConfiguration=i.get("imageScanningConfiguration"),
            encryptionConfiguration=encryption,
            tags=tag_list(i.get("tags")),
        )
    )["repository"]
    return name, {
        "name": name,
        "arn": repo["repositoryArn"],
        "registryId": repo["registryId"],
        "repositoryUrl": repo["repositoryUri"],
    }


def _lifecycle(m: Moto, a: Args) -> Result:
    m.client("ecr").put_lifecycle_policy(
        repositoryName=a.inputs["repository"], lifecyclePolicyText=a.inputs["policy"]
    )
    return a.inputs["repository"], {"registryId": m.account_id}


def _authorization_token(m: Moto, args: pulumi.runtime.MockCallArgs) -> CallResult:
    data = m.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {
        "authorizationToken": data["authorizationToken"],
        "userName": user,
        "password": password,
        "proxyEndpoint": data["proxyEndpoint"],
        "expiresAt": str(data["expiresAt"]),
        "registryId": m.account_id,
        "id": m.region,
    }


MIRRORS: dict[str, Mirror] = {
    "aws:ecr/repository:Repository": _repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _lifecycle,
}
CALLS: dict[str, CallMirror] = {
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _authorization_token,
}
