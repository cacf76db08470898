"""Which typed English words may be slips of the finger for which others: one edit apart.

Shared by search (a question word no passage has is searched as the word it is a slip for)
and the offline answerer (which quotes the sentences having the question's words).
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

# SCOWL's American and British English words up to size 50 (Debian's wamerican and wbritish,
# 2020.12.07: common words, their inflections and proper names), folded to lower case, four
# letters or more, without possessives; 73,638 words (english-words.LICENSE beside it).
ENGLISH_WORDS = Path(__file__).with_name("english-words.txt.gz")
TYPO_MIN_LENGTH = 4
# A word this short is corrected only for two neighbours swapped ("lnog", "tkae"): one other
# edit from a four-letter word is nearly always another real word, and the collection lacking
# it is no sign of a typo ("lost" was read as "cost", "germ" as "term", "true" as "rue").
SWAPS_ONLY_UP_TO = 4


def is_word(term: str) -> bool:
    """An English word: codes, numbers and Chinese are never corrected."""
    return term.isascii() and term.isalpha()


def typo_candidate(term: str) -> bool:
    return len(term) >= TYPO_MIN_LENGTH and is_word(term)


def is_english_word(word: str) -> bool:
    """Whether ``word`` is in the bundled English word list (``ENGLISH_WORDS``), any case."""
    return word.casefold() in _english_words()


def respelling_allowed(typed: str, term: str, word: str) -> bool:
    """Whether ``term``, analysed from the visitor's word ``typed``, may be read as ``word``.

    A real English word the collection lacks is no sign of a slip: "catch" was read as
    "match", "gloves" as "love", "yield" as "field". It is still read as a word that differs
    only in its last letter, another form of it ("soapy" → soap, "complain" → complaint, and
    a crude stem's "temperatur" → temperature).
    """
    return not is_english_word(typed) or _other_ending(term, word)


def _other_ending(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are the same but for the last letter (added, dropped, changed)."""
    short, long = sorted((a, b), key=len)
    if len(long) == len(short):
        return long[:-1] == short[:-1]
    return len(long) == len(short) + 1 and long.startswith(short)


@functools.cache
def _english_words() -> frozenset[str]:
    with gzip.open(ENGLISH_WORDS, "rt", encoding="ascii") as lines:
        return frozenset(lines.read().split())


def typo_of(typed: str, word: str) -> bool:
    """Whether ``typed`` may be a slip for ``word``: one edit apart, a swap if it is short."""
    if len(typed) > SWAPS_ONLY_UP_TO:
        return one_edit(typed, word)
    return len(typed) == len(word) and one_edit(typed, word) and sorted(typed) == sorted(word)


def one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one insertion, deletion, substitution or swap of neighbours
    apart (both different)."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    return a[i + 1 :] == b[i + 1 :] or (
        i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    )
