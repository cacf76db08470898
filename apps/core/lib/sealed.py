"""Seal secrets kept in the database (provider API keys) with keys derived from SECRET_KEY.

A database dump or a read-only SQL injection then yields ciphertext, not working keys. Rotating
SECRET_KEY keeps old seals readable while the old key is listed in SECRET_KEY_FALLBACKS; the next
save seals with the new key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Marks a sealed value, so values stored before sealing existed still read back (and are
# sealed on their next save) and a value is never sealed twice.
PREFIX = "sealed:v1:"


class UnsealError(ValueError):
    """A sealed value that none of the configured keys opens."""


def _fernet(secret: str) -> Fernet:
    # A key of its own for this purpose: signing (sessions, visitor tokens) never shares it.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"csbot sealed secrets v1"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def sealer(secrets: Iterable[str]) -> MultiFernet:
    """Return a sealer that seals with the first secret and opens with any of them."""
    return MultiFernet([_fernet(secret) for secret in secrets])


def seal(value: str, *, using: MultiFernet) -> str:
    if not value or value.startswith(PREFIX):
        return value
    return PREFIX + using.encrypt(value.encode()).decode("ascii")


def unseal(value: str, *, using: MultiFernet) -> str:
    """Return the plain value; a value stored before sealing is returned as it is."""
    if not value.startswith(PREFIX):
        return value
    try:
        return using.decrypt(value.removeprefix(PREFIX).encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise UnsealError(
            "no configured secret key opens this value: was CSBOT_SECRET_KEY changed without "
            "listing the old one in CSBOT_SECRET_KEY_FALLBACKS?"
        ) from exc
