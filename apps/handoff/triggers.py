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


# What is left of "I want to talk to a human" or "我要转人工" once the phrase is gone: words that
# ask for a person without saying what about.
_FILLER_WORDS = frozenset(
    # A word list reads better as text than as sixty quoted strings.
    (  # noqa: SIM905
        "i i'd i'm want wanna would like to talk speak chat with a an the please pls plz can "
        "could may let me get need connect transfer put through someone somebody person people "
        "real live now hi hello hey ok okay just give you your one of from team staff support "
        "customer service there is anyone here"
    ).split()
)
_FILLER_HAN = frozenset("我要想找请帮转接你好谢谢一下个吧呢啊的给人工客服真需能否可以在吗")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def is_bare_request(text: str, phrases: list[str]) -> bool:
    """Whether ``text`` only asks for a person ("talk to a human", "转人工"), saying nothing of
    what about: a ticket's subject skips it for the question before."""
    normalised = _normalise(text)
    found = False
    for phrase in sorted(phrases, key=len, reverse=True):
        if _matches(phrase, normalised):
            found = True
            normalised = normalised.replace(_normalise(phrase), " ")
    if not found:
        return False
    for word in _WORD.findall(normalised):
        if _CJK.search(word):
            if any(char not in _FILLER_HAN for char in word):
                return False
        elif word not in _FILLER_WORDS:
            return False
    return True
