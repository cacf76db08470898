"""An in-memory BM25 index over one collection's passages, updated in place.

Layout (as Lucene does it, in miniature): a *main* segment of numpy arrays (term → postings of
document slots and term frequencies, compressed-column style) plus a small *delta* of recently
added passages kept in dicts. Deleting or replacing a passage clears its slot's ``alive`` flag;
when the delta or the dead slots grow past a fraction of the main segment, both are merged into
a new main segment, from memory, without touching the database.

Document frequencies count dead slots until the next merge. That staleness is bounded (at most
``MERGE_MIN`` passages or ``MERGE_FRACTION`` of the collection), moves scores by a few percent at
worst, and never changes which passages can match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from apps.core.lib.typos import TYPO_MIN_LENGTH, is_word, typo_of

K1 = 1.2
B = 0.75
MERGE_FRACTION = 0.1
MERGE_MIN = 32


@dataclass(frozen=True)
class LexicalDoc:
    passage_id: int
    terms: Sequence[str]


class LexicalIndex:
    """BM25 postings of one collection."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.slot_ids = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.lengths = np.zeros(0, dtype=np.float32)
        self.indptr = np.zeros(1, dtype=np.int64)
        self.post_slots = np.zeros(0, dtype=np.int32)
        self.post_tfs = np.zeros(0, dtype=np.float32)
        self.df = np.zeros(0, dtype=np.int32)
        self.slot_of: dict[int, int] = {}
        # Delta segment: passage id → term counts, and term → {passage id: tf}.
        self.delta_docs: dict[int, Counter[str]] = {}
        self.delta_postings: dict[str, dict[int, int]] = {}
        self.dead = 0
        # Sums of the live passages' lengths, kept up to date for BM25's average length.
        self.main_length = 0.0
        self.delta_length = 0
        # Typo tolerance: one-deletion variants of the main segment's words → their term ids,
        # built on the first misspelt question after each merge (SymSpell's deletes index).
        self._deletes: dict[str, list[int]] | None = None
        self._terms: list[str] = []

    # --- size -----------------------------------------------------------------------------
    @property
    def doc_count(self) -> int:
        return len(self.slot_ids) - self.dead + len(self.delta_docs)

    @property
    def total_length(self) -> float:
        return self.main_length + self.delta_length

    def nbytes(self) -> int:
        arrays = (self.slot_ids, self.alive, self.lengths, self.indptr, self.post_slots)
        return sum(a.nbytes for a in arrays) + self.post_tfs.nbytes + self.df.nbytes

    # --- writes ---------------------------------------------------------------------------
    def build(self, docs: Iterable[LexicalDoc]) -> None:
        """Replace everything with ``docs``."""
        vocab: dict[str, int] = {}
        intern = vocab.setdefault
        pids: list[int] = []
        sizes: list[int] = []
        term_ids: list[int] = []
        for doc in docs:
            pids.append(doc.passage_id)
            sizes.append(len(doc.terms))
            term_ids.extend([intern(term, len(vocab)) for term in doc.terms])
        slots = np.repeat(np.arange(len(pids), dtype=np.int64), sizes)
        # One (slot, term) pair per occurrence; counting equal pairs gives the term frequencies.
        pairs, tfs = np.unique(
            slots * max(len(vocab), 1) + np.asarray(term_ids, dtype=np.int64), return_counts=True
        )
        self._build_main(
            np.asarray(pids, dtype=np.int64),
            pairs // max(len(vocab), 1),
            pairs % max(len(vocab), 1),
            tfs,
            vocab,
        )

    def upsert(self, docs: Iterable[LexicalDoc]) -> None:
        for doc in docs:
            self.remove([doc.passage_id])
            counts = Counter(doc.terms)
            self.delta_docs[doc.passage_id] = counts
            self.delta_length += len(doc.terms)
            for term, tf in counts.items():
                self.delta_postings.setdefault(term, {})[doc.passage_id] = tf
        self._maybe_merge()

    def remove(self, passage_ids: Iterable[int]) -> None:
        for pid in passage_ids:
            slot = self.slot_of.pop(pid, None)
            if slot is not None:
                self.alive[slot] = False
                self.dead += 1
                self.main_length -= float(self.lengths[slot])
            counts = self.delta_docs.pop(pid, None)
            if counts is not None:
                self.delta_length -= sum(counts.values())
                for term in counts:
                    postings = self.delta_postings[term]
                    del postings[pid]
                    if not postings:
                        del self.delta_postings[term]
        self._maybe_merge()

    def _maybe_merge(self) -> None:
        limit = max(MERGE_MIN, int(MERGE_FRACTION * len(self.slot_ids)))
        if len(self.delta_docs) > limit or self.dead > limit:
            self._merge()

    def _merge(self) -> None:
        """Fold the delta into the main segment and drop dead slots, from memory."""
        vocab = dict(self.vocab)
        alive_slots = np.flatnonzero(self.alive)
        renumber = np.full(len(self.slot_ids), -1, dtype=np.int64)
        renumber[alive_slots] = np.arange(len(alive_slots))
        term_of_posting = np.repeat(
            np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr)
        )
        keep = self.alive[self.post_slots]
        slots = [renumber[self.post_slots[keep]]]
        terms = [term_of_posting[keep]]
        tfs = [self.post_tfs[keep].astype(np.int64)]
        pids = [self.slot_ids[alive_slots]]
        for n, (pid, counts) in enumerate(self.delta_docs.items(), start=len(alive_slots)):
            pids.append(np.asarray([pid], dtype=np.int64))
            slots.append(np.full(len(counts), n, dtype=np.int64))
            terms.append(
                np.asarray([vocab.setdefault(t, len(vocab)) for t in counts], dtype=np.int64)
            )
            tfs.append(np.asarray(list(counts.values()), dtype=np.int64))
        self._build_main(
            np.concatenate(pids),
            np.concatenate(slots),
            np.concatenate(terms),
            np.concatenate(tfs),
            vocab,
        )

    def _build_main(
        self,
        pids: np.ndarray,
        slots: np.ndarray,
        terms: np.ndarray,
        tfs: np.ndarray,
        vocab: dict[str, int],
    ) -> None:
        """Lay out postings (term → slots, tfs) from one (slot, term, tf) triplet per pair."""
        order = np.lexsort((slots, terms))  # by term, then slot: postings sorted within a term
        counts_per_term = np.bincount(terms, minlength=len(vocab))
        self.vocab = vocab
        self.slot_ids = pids
        self.alive = np.ones(len(pids), dtype=bool)
        self.lengths = np.bincount(slots, weights=tfs, minlength=len(pids)).astype(np.float32)
        self.indptr = np.concatenate(([0], np.cumsum(counts_per_term))).astype(np.int64)
        self.post_slots = slots[order].astype(np.int32)
        self.post_tfs = tfs[order].astype(np.float32)
        self.df = counts_per_term.astype(np.int32)
        self.slot_of = dict(zip(pids.tolist(), range(len(pids)), strict=True))
        self.delta_docs = {}
        self.delta_postings = {}
        self.dead = 0
        self.main_length = float(self.lengths.sum())
        self.delta_length = 0
        self._deletes = None

    # --- reads ----------------------------------------------------------------------------
    def term_df(self, term: str) -> int:
        index = self.vocab.get(term)
        main = int(self.df[index]) if index is not None else 0
        return main + len(self.delta_postings.get(term, ()))

    def near_term(self, term: str) -> tuple[str, int] | None:
        """The most frequent main-segment word ``term`` is a typo of (``typo_of``), and its df.

        A lookup of the word's own deletion variants in the deletes index: a handful of dict
        reads whatever the vocabulary's size. Words of the delta are not offered until the
        next merge.
        """
        deletes = self._deletes if self._deletes is not None else self._deletes_build()
        best: tuple[str, int] | None = None
        for variant in (term, *_deletions(term)):
            for index in deletes.get(variant, ()):
                candidate, df = self._terms[index], int(self.df[index])
                if candidate == term or not df or not typo_of(term, candidate):
                    continue
                if best is None or (df, best[0]) > (best[1], candidate):
                    best = (candidate, df)
        return best

    def _deletes_build(self) -> dict[str, list[int]]:
        self._terms = list(self.vocab)
        deletes: dict[str, list[int]] = {}
        for index, term in enumerate(self._terms):
            if len(term) >= TYPO_MIN_LENGTH - 1 and is_word(term):
                for variant in dict.fromkeys((term, *_deletions(term))):
                    deletes.setdefault(variant, []).append(index)
        self._deletes = deletes
        return deletes

    def score(self, weights: dict[str, float], avgdl: float) -> tuple[np.ndarray, dict[int, float]]:
        """BM25 of every passage for query terms weighted by their idf (``weights``).

        Returns the main segment's scores, one per slot (dead slots zeroed), and the delta's
        scores by passage id.
        """
        scores = np.zeros(len(self.slot_ids), dtype=np.float32)
        avgdl = max(avgdl, 1e-9)
        if len(self.slot_ids):
            for term, weight in weights.items():
                index = self.vocab.get(term)
                if index is None:
                    continue
                lo, hi = self.indptr[index], self.indptr[index + 1]
                slots = self.post_slots[lo:hi]
                tf = self.post_tfs[lo:hi]
                norm = K1 * (1 - B + B * self.lengths[slots] / avgdl)
                scores[slots] += weight * tf * (K1 + 1) / (tf + norm)
            if self.dead:
                scores[~self.alive] = 0.0
        delta: dict[int, float] = {}
        for term, weight in weights.items():
            for pid, count in self.delta_postings.get(term, {}).items():
                length = sum(self.delta_docs[pid].values())
                denom = count + K1 * (1 - B + B * length / avgdl)
                delta[pid] = delta.get(pid, 0.0) + weight * count * (K1 + 1) / denom
        return scores, delta

    def contains(self, passage_id: int, term: str) -> bool:
        """Whether the passage has ``term`` (postings are sorted by slot within a term)."""
        counts = self.delta_docs.get(passage_id)
        if counts is not None:
            return term in counts
        slot, index = self.slot_of.get(passage_id), self.vocab.get(term)
        if slot is None or index is None:
            return False
        postings = self.post_slots[self.indptr[index] : self.indptr[index + 1]]
        found = int(np.searchsorted(postings, slot))
        return found < len(postings) and int(postings[found]) == slot


def deletes_index(words: Iterable[str]) -> dict[str, list[str]]:
    """Each word and each of its one-letter deletions → the words (SymSpell's deletes index)."""
    deletes: dict[str, list[str]] = {}
    for word in words:
        for variant in dict.fromkeys((word, *_deletions(word))):
            deletes.setdefault(variant, []).append(word)
    return deletes


def near_words(term: str, deletes: dict[str, list[str]]) -> list[str]:
    """The words of ``deletes`` (``deletes_index``) that ``term`` may be a typo of."""
    found = (word for variant in (term, *_deletions(term)) for word in deletes.get(variant, ()))
    return [word for word in dict.fromkeys(found) if word != term and typo_of(term, word)]


def one_edit_variants(word: str) -> list[str]:
    """Every lower-case word one edit (Damerau) from ``word``: swaps of neighbours first, the
    commonest slip of the fingers, then deletions, insertions and substitutions."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1 and b[0] != b[1]]
    deletions = [a + b[1:] for a, b in splits if b]
    insertions = [a + c + b for a, b in splits for c in letters]
    substitutions = [a + c + b[1:] for a, b in splits if b for c in letters if c != b[0]]
    return list(dict.fromkeys([*swaps, *deletions, *insertions, *substitutions]))


def _deletions(term: str) -> list[str]:
    return [term[:i] + term[i + 1 :] for i in range(len(term))]


def idf(doc_count: int, df: int) -> float:
    """BM25+ style idf that never goes negative for very common terms."""
    return float(np.log1p((doc_count - df + 0.5) / (df + 0.5)))
