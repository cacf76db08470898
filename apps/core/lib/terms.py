"""Words as the offline answerer and the bot's follow-up rules match them, without an index.

Codes as one term, English words crudely stemmed, Chinese as character bigrams: framework-free,
so the quote (``apps.llm.offline``) and the bot's judging of follow-ups (``apps.bot.respond``)
read text alike. Search has its own analyzer (``apps.knowledge.search.analyzer``), shaped by
the admin's tuning.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from apps.core.lib.codes import CODE, code_term, is_spaced

LATIN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
EN_STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "hi",
        "hello",
        "thanks",
        "thank",
    )
)
# Single characters too common in Chinese questions to say anything about the topic.
_ZH_STOPCHARS = frozenset(
    "的了是我你他她它们吗呢吧啊在有和与就都也还要会能可以怎么如何什么请问这那个"
)


def terms(text: str) -> list[str]:
    """Split text into matchable terms: codes, Latin words (crudely stemmed) and Han bigrams.

    A code is one term however it is written (LM-2041, lm2041: ``lm2041``), and not its parts:
    "LM-2041 price" must not quote the LM-3307's price for its "LM".
    """
    found: list[str] = []

    def cut_code(match: re.Match[str]) -> str:
        if is_spaced(match):
            return match[0]
        found.append(code_term(match))
        return " "

    lowered = CODE.sub(cut_code, unicodedata.normalize("NFKC", text).casefold())
    found += [stem(w) for w in LATIN_WORD.findall(lowered) if w not in EN_STOPWORDS]
    for run in _HAN_RUN.findall(lowered):
        chars = [c for c in run if c not in _ZH_STOPCHARS]
        if len(chars) == 1:
            found.append(chars[0])
        found += [a + b for a, b in itertools.pairwise(chars)]
    return found


def stem(word: str) -> str:
    """Strip one inflection so "ships", "shipped" and "shipping" all match "ship"."""
    for suffix in ("ing", "ed", "es", "s"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and not word.endswith("ss"):
            if suffix in ("ing", "ed") and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem
    return word


_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The words of ``text`` as typed, folded: its runs of letters and digits ("smart bulb"
    is two, as a multi-word synonym the search matched is)."""
    return _WORD.findall(text.casefold())
