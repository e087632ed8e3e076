"""Optional API-key auth: keys are kept only as SHA-256 hashes, compared in constant time.

Keys come from ``INFERSTACK_API_KEY`` (plain, hashed at start),
``INFERSTACK_API_KEY_HASHES`` (comma-separated hex SHA-256 digests, optionally
prefixed ``sha256:``) and ``INFERSTACK_API_KEY_FILE`` (one key per line; a line
``sha256:<hex>`` is a hash, any other non-comment line a plain key). Clients send
``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

from inferstack.runtime.errors import ConfigError, Unauthorized
from inferstack.runtime.settings import RuntimeSettings

log = logging.getLogger("inferstack.runtime")
MIN_KEY_LENGTH = 16
"""Plain keys shorter than this get a warning at start."""


def hash_key(key: str) -> str:
    """The hex SHA-256 of an API key (what ``INFERSTACK_API_KEY_HASHES`` holds)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _parse_hash(text: str, source: str) -> bytes:
    value = text.strip().removeprefix("sha256:")
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        digest = b""
    if len(digest) != 32:  # the value itself is never echoed: it may be a plain key
        raise ConfigError(
            f"{source}: an entry of {len(value)} characters is not a hex SHA-256 digest "
            "(64 hex digits, optionally prefixed sha256:)"
        )
    return digest


def load_key_hashes(settings: RuntimeSettings) -> list[bytes]:
    """All configured key digests; empty means auth is off."""
    digests: list[bytes] = []
    if settings.api_key:
        digests.append(hashlib.sha256(settings.api_key.encode("utf-8")).digest())
    if settings.api_key_hashes:
        digests += [
            _parse_hash(h, "INFERSTACK_API_KEY_HASHES")
            for h in settings.api_key_hashes.split(",")
            if h.strip()
        ]
    if settings.api_key_file is not None:
        digests += read_key_file(settings.api_key_file)
    return digests


def _key_lines(path: Path) -> list[str]:
    try:
        # utf-8-sig: a file saved with a byte-order mark still matches its first key.
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read API key file '{path}': {err}") from err
    keys = [line.strip() for line in lines]
    keys = [k for k in keys if k and not k.startswith("#")]
    if not keys:
        raise ConfigError(
            f"API key file '{path}' holds no keys: write one key (or sha256:<hex>) per line, "
            "or unset INFERSTACK_API_KEY_FILE"
        )
    return keys


def read_key_file(path: Path) -> list[bytes]:
    """Digests from a key file (plain keys or ``sha256:`` lines; ``#`` comments)."""
    return [
        _parse_hash(k, str(path))
        if k.startswith("sha256:")
        else hashlib.sha256(k.encode("utf-8")).digest()
        for k in _key_lines(path)
    ]


def check_keys(settings: RuntimeSettings) -> None:
    """Load the keys once at start (``ConfigError`` if unusable) and warn when auth is weak.

    One warning when no key is configured, and one when a plain key (from
    ``INFERSTACK_API_KEY`` or the key file) is shorter than ``MIN_KEY_LENGTH``.
    """
    if not load_key_hashes(settings):
        log.warning(
            "API key auth is off: anyone who reaches this port can call the model; set "
            "INFERSTACK_API_KEY, INFERSTACK_API_KEY_HASHES or INFERSTACK_API_KEY_FILE"
        )
        return
    plain = [settings.api_key] if settings.api_key else []
    if settings.api_key_file is not None:
        plain += [k for k in _key_lines(settings.api_key_file) if not k.startswith("sha256:")]
    shortest = min((len(k) for k in plain), default=MIN_KEY_LENGTH)
    if shortest < MIN_KEY_LENGTH:
        log.warning(
            f"an API key has only {shortest} characters: use random keys of at least "
            f"{MIN_KEY_LENGTH} characters (32 or more is better)"
        )


class ApiKeyAuth:
    """Checks a request's key against the configured digests."""

    def __init__(self, digests: list[bytes]) -> None:
        self.digests = digests

    @property
    def enabled(self) -> bool:
        """Whether any key is configured."""
        return bool(self.digests)

    def check(self, authorization: bytes | None, x_api_key: bytes | None) -> None:
        """Raise ``Unauthorized`` unless one header carries a configured key."""
        key = x_api_key or None  # an empty X-Api-Key does not hide a bearer token
        if key is None and authorization is not None:
            scheme, _, token = authorization.partition(b" ")
            if scheme.lower() == b"bearer":
                key = token.strip()
        if not key:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-Api-Key'")
        digest = hashlib.sha256(key).digest()
        match = False
        for known in self.digests:  # no early exit: time does not depend on which key matched
            match |= hmac.compare_digest(digest, known)
        if not match:
            raise Unauthorized("invalid API key")
