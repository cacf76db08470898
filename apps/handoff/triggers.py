"""Decide from a visitor's words alone whether they want a human: pure functions, no database.

Phrases are matched case-insensitively. A phrase with Chinese characters matches anywhere in the
message (Chinese has no spaces between words); any other phrase matches as whole words, so
"agent" triggers on "talk to an agent" but not on "user-agents" or "agentic".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class KeywordMatch:
    reason: str
    phrase: str


def phrases_parse(text: str) -> list[str]:
    """One phrase per line; blank lines and surrounding spaces are ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _normalise(text: str) -> str:
    # NFKC folds full-width letters (ＡＧＥＮＴ) into ASCII, as typed on Chinese keyboards.
    return unicodedata.normalize("NFKC", text).casefold()


def _matches(phrase: str, text: str) -> bool:
    phrase = _normalise(phrase)
    if _CJK.search(phrase):
        return phrase in text
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.search(rf"(?<![\w-]){words}(?![\w-])", text) is not None


def phrase_find(text: str, phrases: list[str]) -> str | None:
    """The longest of ``phrases`` that ``text`` contains (the most specific), or ``None``."""
    normalised = _normalise(text)
    longest_first = sorted(phrases, key=len, reverse=True)
    return next((phrase for phrase in longest_first if _matches(phrase, normalised)), None)


def keyword_trigger(
    text: str, *, request_phrases: list[str], frustration_phrases: list[str]
) -> KeywordMatch | None:
    """The handoff a message asks for by its words: a request for a human, or frustration."""
    phrase = phrase_find(text, request_phrases)
    if phrase is not None:
        return KeywordMatch(reason="customer_request", phrase=phrase)
    phrase = phrase_find(text, frustration_phrases)
    if phrase is not None:
        return KeywordMatch(reason="negative_sentiment", phrase=phrase)
    return None
