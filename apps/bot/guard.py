"""The sensitive-term guard: one Aho-Corasick pass over text, and a streaming cut-off.

Text and terms are folded the same way before matching: NFKC (full-width ＡＢＣ and half-width
forms become plain), case-folded, and with separators (spaces, punctuation, symbols) left out,
so a Chinese term still matches when its characters are spaced or dotted apart ("敏 感",
"敏.感"). A term without Chinese characters must match whole words, separators where the term
has spaces, so "ass" does not fire inside "class" and "f.u.c.k" is not mistaken for a word list.
Pure functions and classes: no database (``selectors.guard_matcher`` builds one from the admin's
list).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import ahocorasick

# Strongest first: one hit of a stronger action decides what happens to the whole text.
ACTIONS = ("handoff", "block", "mask")
MASK_CHAR = "\uff0a"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Term:
    text: str
    category: str
    action: str
    id: int | None = None


@dataclass(frozen=True)
class Hit:
    """A term found in text; ``start``/``end`` index the original text."""

    term: Term
    start: int
    end: int

    def excerpt(self, text: str, context: int = 30) -> str:
        return text[max(0, self.start - context) : self.end + context]


@lru_cache(maxsize=8192)
def fold_char(char: str) -> str:
    """The character as matched, or "" for a separator (cached: texts reuse few characters)."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    if len(folded) != 1:
        # Ligatures and the like: keep a one-to-one map from folded to original positions.
        folded = char.casefold()[:1] or char
    category = unicodedata.category(folded)
    if category[0] in "ZPSC":
        return ""
    return folded


def term_key(text: str) -> str:
    """What the matcher looks for when given ``text`` as a term: two terms with one key are the
    same term ("Taobao", "taobao", "ＴＡＯＢＡＯ")."""
    return "".join(fold_char(c) for c in text)


def _words(text: str) -> str:
    """``text`` folded, separators collapsed to one space: how a Latin term must appear."""
    return " ".join("".join(fold_char(c) or " " for c in text).split())


def strongest(hits: Iterable[Hit]) -> Hit | None:
    ranked = sorted(hits, key=lambda h: (ACTIONS.index(h.term.action), h.start))
    return ranked[0] if ranked else None


class Matcher:
    """Finds every term of a list in a text in one pass (pyahocorasick's automaton)."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self._automaton = ahocorasick.Automaton()
        self.longest = 0
        by_key: dict[str, list[Term]] = {}
        for term in terms:
            key = term_key(term.text)
            if key:
                by_key.setdefault(key, []).append(term)
        for key, same in by_key.items():
            self._automaton.add_word(key, (key, tuple(same)))
            self.longest = max(self.longest, len(key))
        if by_key:
            self._automaton.make_automaton()
        self.size = len(by_key)

    def __bool__(self) -> bool:
        return self.size > 0

    def could_grow_into_a_term(self, folded: str) -> bool:
        """Whether ``folded`` begins some term (or is one): more text may complete it."""
        return self.size > 0 and self._automaton.match(folded)

    def scan(self, folded: str) -> Iterable[tuple[int, str, tuple[Term, ...]]]:
        """Yield ``(end, key, terms)`` for each key in ``folded``; end is exclusive."""
        if not self.size or not folded:
            return
        for last, (key, terms) in self._automaton.iter(folded):
            yield last + 1, key, terms

    def find(self, text: str) -> list[Hit]:
        """Every term occurrence in a complete ``text``."""
        folded = _Folded()
        folded.extend(text)
        return [hit for hit, _ in folded.hits(self, 0, final=True)]


def mask(text: str, hits: Iterable[Hit]) -> str:
    """``text`` with each hit's characters (separators included) replaced by ＊."""
    chars = list(text)
    for hit in hits:
        for i in range(hit.start, hit.end):
            if not chars[i].isspace():
                chars[i] = MASK_CHAR
    return "".join(chars)


@dataclass
class _Folded:
    """A growing text and its folded form, with the map back to original positions."""

    text: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)
    length: int = 0

    def extend(self, piece: str) -> None:
        for char in piece:
            folded = fold_char(char)
            if folded:
                self.folded.append(folded)
                self.origin.append(self.length)
            self.text.append(char)
            self.length += 1

    def hits(self, matcher: Matcher, start: int, *, final: bool) -> Iterable[tuple[Hit, bool]]:
        """``(hit, decided)`` for keys starting at or after folded index ``start``.

        A Latin term at the very end of unfinished text may yet turn out to be part of a longer
        word: it is yielded undecided.
        """
        # Only the window is joined: a streamed answer is scanned a few characters at a time.
        window = "".join(self.folded[start:])
        for window_end, key, terms in matcher.scan(window):
            end = start + window_end
            begin_at = self.origin[end - len(key)]
            end_at = self.origin[end - 1] + 1
            for term in terms:
                hit = Hit(term, begin_at, end_at)
                if _CJK.search(term.text):
                    yield hit, True
                elif end_at == self.length and not final:
                    yield hit, False
                elif self._whole_words(term, begin_at, end_at):
                    yield hit, True

    def _whole_words(self, term: Term, begin: int, end: int) -> bool:
        before = self.text[begin - 1] if begin > 0 else " "
        after = self.text[end] if end < self.length else " "
        if before.isalnum() or after.isalnum():
            return False
        return _words("".join(self.text[begin:end])) == _words(term.text)


@dataclass(frozen=True)
class StreamVerdict:
    """What ``StreamGuard.feed`` lets through now, and the hit that stops the stream, if any."""

    text: str
    stop: Hit | None = None
    masked: tuple[Hit, ...] = ()


class StreamGuard:
    """Lets streamed text through only once no sensitive term can still be forming in it.

    The longest tail of the text that begins some term is held back (a term cut between two
    deltas is never half shown), and so is an undecided Latin match; everything before it is
    released at once, so ordinary text is not delayed. A block or hand-off hit stops the
    stream: nothing from its start on is ever released. Mask hits are released masked.
    """

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self._buffer = _Folded()
        self._released = 0
        self._scanned = 0
        self._masks: list[Hit] = []
        self.stopped: Hit | None = None

    @property
    def received(self) -> str:
        return "".join(self._buffer.text)

    @property
    def released_text(self) -> str:
        return mask("".join(self._buffer.text[: self._released]), self._masks)

    def feed(self, piece: str) -> StreamVerdict:
        if self.stopped is not None:
            return StreamVerdict("", self.stopped)
        self._buffer.extend(piece)
        return self._advance(final=False)

    def finish(self) -> StreamVerdict:
        """Release everything still held: the text is complete."""
        if self.stopped is not None:
            return StreamVerdict("", self.stopped)
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> StreamVerdict:
        buffer = self._buffer
        folded_length = len(buffer.folded)
        # Keys ending before the last call's end were decided then (those ending right at it
        # may have been undecided).
        start = max(0, self._scanned - self.matcher.longest)
        undecided_from = buffer.length
        new_masks = []
        for hit, decided in buffer.hits(self.matcher, start, final=final):
            if not decided:
                undecided_from = min(undecided_from, hit.start)
                continue
            if any(h.start == hit.start and h.term == hit.term for h in self._masks):
                continue
            if hit.term.action == "mask":
                new_masks.append(hit)
                continue
            if self.stopped is None or hit.start < self.stopped.start:
                self.stopped = hit
        self._scanned = folded_length
        self._masks += new_masks
        safe = buffer.length if final else min(self._held_from(folded_length), undecided_from)
        if self.stopped is not None:
            # Nothing more will come: all before the term is final, and none of it is.
            safe = self.stopped.start
        for hit in self._masks:
            # A mask decided on is released whole, never cut between its characters.
            if hit.start < safe < hit.end:
                safe = hit.end if self.stopped is None else hit.start
        safe = max(safe, self._released)
        piece = mask(
            "".join(buffer.text[self._released : safe]),
            _shifted(self._masks, self._released, safe),
        )
        self._released = safe
        return StreamVerdict(piece, self.stopped, tuple(new_masks))

    def _held_from(self, folded_length: int) -> int:
        """Original index of the first held-back character (the length if none is held)."""
        # Only a tail shorter than the longest term can be one still forming.
        keep = max(self.matcher.longest - 1, 0)
        tail = "".join(self._buffer.folded[max(folded_length - keep, 0) :])
        for size in range(len(tail), 0, -1):
            if self.matcher.could_grow_into_a_term(tail[-size:]):
                return self._buffer.origin[folded_length - size]
        return self._buffer.length


def _shifted(hits: list[Hit], start: int, end: int) -> list[Hit]:
    """Hits inside ``[start, end)``, re-indexed relative to ``start``."""
    return [
        Hit(h.term, max(h.start, start) - start, min(h.end, end) - start)
        for h in hits
        if h.start < end and h.end > start
    ]
