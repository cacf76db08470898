"""Answer cache: the same question, on the same knowledge base and model route, answered once.

Keyed by site, visitor language, the question's normalised form, the knowledge-base version
(``knowledge.selectors.kb_version``: any edit, import or tuning change moves it), the model route
and the bot settings' last change. Stored in Django's cache (Redis when ``REDIS_URL`` is set, so
every worker shares it). Only grounded, complete answers are stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from apps.chat.events import Citation
from apps.core.cache import shared_cache

_PREFIX = "bot:answer:"
_VERSION = 1


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    citations: list[Citation]
    decision: str
    # The audit rows of the passages behind it (ids, scores, used/cited).
    passages: list[dict]
    route: str


def answer_key(
    *, site_id: int, language: str, question: str, kb_version: str, route: str, settings_stamp: str
) -> str:
    """The cache key; ``question`` is already in ``normalise.cache_form``."""
    raw = "\x1f".join(
        [str(_VERSION), str(site_id), language, question, kb_version, route, settings_stamp]
    )
    return _PREFIX + hashlib.sha256(raw.encode()).hexdigest()


async def answer_get(key: str) -> CachedAnswer | None:
    data = await shared_cache().aget(key)
    if not isinstance(data, dict):
        return None
    try:
        return CachedAnswer(**data)
    except TypeError:
        return None  # stored by another version of this class


async def answer_set(key: str, answer: CachedAnswer, *, seconds: int) -> None:
    if seconds > 0:
        await shared_cache().aset(key, asdict(answer), timeout=seconds)
