"""KMS keys and aliases in moto."""

from __future__ import annotations

from inferstack.components.testing.aws.shapes import Args, Mirror, Moto, Result, params


def _key(m: Moto, a: Args) -> Result:
    i = a.inputs
    meta = m.client("kms").create_key(
        **params(
            Description=i.get("description"),
            Policy=i.get("policy"),
            Tags=[{"TagKey": k, "TagValue": v} for k, v in (i.get("tags") or {}).items()],
        )
    )["KeyMetadata"]
    if i.get("enableKeyRotation"):
        m.client("kms").enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"keyId": meta["KeyId"], "arn": meta["Arn"]}


def _alias(m: Moto, a: Args) -> Result:
    name = a.inputs["name"]
    m.client("kms").create_alias(AliasName=name, TargetKeyId=a.inputs["targetKeyId"])
    return name, {"arn": f"arn:aws:kms:{m.region}:{m.account_id}:{name}"}


MIRRORS: dict[str, Mirror] = {
    "aws:kms/key:Key": _key,
    "aws:kms/alias:Alias": _alias,
}
