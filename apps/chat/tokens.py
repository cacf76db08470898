"""Signed visitor tokens: who a widget is, for one site, without a server-side session."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

_SALT = "csbot.chat.visitor"


@dataclass(frozen=True)
class VisitorClaim:
    visitor_public_id: str
    site_key: str


def visitor_token_issue(*, visitor_public_id: str, site_key: str) -> str:
    return signing.dumps({"v": visitor_public_id, "s": site_key}, salt=_SALT, compress=False)


def visitor_token_read(token: str) -> VisitorClaim | None:
    """Return the claim of a valid, unexpired token; ``None`` for anything else."""
    if not isinstance(token, str) or len(token) > 512:
        return None
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.CSBOT_VISITOR_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("v"), str)
        or not isinstance(data.get("s"), str)
    ):
        return None
    return VisitorClaim(visitor_public_id=data["v"], site_key=data["s"])
