"""The committed `local` stack config: its passphrase salt and what `make up` reads."""

from __future__ import annotations

import base64

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from inferstack.components.cli.doctor import LOCAL_PASSPHRASE
from tests.components.local.conftest import ROOT

# Pulumi's passphrase secrets manager: PBKDF2-SHA256, 1,000,000 rounds, a 32-byte key.
PBKDF2_ROUNDS = 1_000_000


def passphrase_opens(encryptionsalt: str, passphrase: str) -> bool:
    """Whether `passphrase` opens `encryptionsalt` as Pulumi checks it:
    `v1:<salt>:v1:<nonce>:<AES-256-GCM of "pulumi">`, all base64."""
    version, salt, crypter, nonce, sealed = encryptionsalt.split(":")
    assert (version, crypter) == ("v1", "v1")
    key = PBKDF2HMAC(hashes.SHA256(), 32, base64.b64decode(salt), PBKDF2_ROUNDS).derive(
        passphrase.encode()
    )
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None)
    except InvalidTag:
        return False
    return plain == b"pulumi"


def test_the_committed_salt_is_for_the_public_local_passphrase() -> None:
    """Without it the first `pulumi up` writes one into the file (a dirty checkout)."""
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    salt = config["encryptionsalt"]
    assert passphrase_opens(salt, LOCAL_PASSPHRASE)
    assert not passphrase_opens(salt, "another-passphrase")
    assert f"LOCAL_PASSPHRASE ?= {LOCAL_PASSPHRASE}" in (ROOT / "Makefile").read_text()


def test_pulumi_docker_is_pinned_to_the_major_the_code_is_written_for() -> None:
    """v5 bundles terraform-provider-docker >= 4.2, which no longer replaces a container
    on every run over the daemon's default log options (upstream #888); a v6 may change
    the Container's schema under this code."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (docker,) = (
        Requirement(r)
        for r in project["project"]["optional-dependencies"]["local"]
        if Requirement(r).name == "pulumi-docker"
    )
    assert str(docker.specifier) in {">=5.0,<6", "<6,>=5.0"}
    assert docker.specifier.contains(version("pulumi-docker"))
