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

    # --- size -----------------------------------------------------------------------------
    @property
    def doc_count(self) -> int:
        return len(self.slot_ids) - self.dead + len(self.delta_docs)

    @property
    def total_length(self) -> float:
        main = float(self.lengths[self.alive].sum()) if len(self.lengths) else 0.0
        return main + sum(sum(c.values()) for c in self.delta_docs.values())

    def nbytes(self) -> int:
        arrays = (self.slot_ids, self.alive, self.lengths, self.indptr, self.post_slots)
        return sum(a.nbytes for a in arrays) + self.post_tfs.nbytes + self.df.nbytes

    # --- writes ---------------------------------------------------------------------------
    def build(self, docs: Iterable[LexicalDoc]) -> None:
        """Replace everything with ``docs``."""
        rows: list[tuple[int, Counter[str]]] = [(d.passage_id, Counter(d.terms)) for d in docs]
        self._build_main(rows)

    def upsert(self, docs: Iterable[LexicalDoc]) -> None:
        for doc in docs:
            self.remove([doc.passage_id])
            counts = Counter(doc.terms)
            self.delta_docs[doc.passage_id] = counts
            for term, tf in counts.items():
                self.delta_postings.setdefault(term, {})[doc.passage_id] = tf
        self._maybe_merge()

    def remove(self, passage_ids: Iterable[int]) -> None:
        for pid in passage_ids:
            slot = self.slot_of.pop(pid, None)
            if slot is not None:
                self.alive[slot] = False
                self.dead += 1
            counts = self.delta_docs.pop(pid, None)
            if counts is not None:
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
        terms = np.empty(len(self.vocab), dtype=object)
        for term, index in self.vocab.items():
            terms[index] = term
        rows: dict[int, Counter[str]] = {int(pid): Counter() for pid in self.slot_ids[self.alive]}
        term_of_posting = np.repeat(np.arange(len(self.vocab)), np.diff(self.indptr))
        keep = self.alive[self.post_slots]
        for t, slot, tf in zip(
            term_of_posting[keep], self.post_slots[keep], self.post_tfs[keep], strict=True
        ):
            rows[int(self.slot_ids[slot])][terms[t]] = int(tf)
        rows.update(self.delta_docs)
        self._build_main(list(rows.items()))

    def _build_main(self, rows: Sequence[tuple[int, Counter[str]]]) -> None:
        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        slots: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(len(rows), dtype=np.float32)
        for slot, (_, counts) in enumerate(rows):
            lengths[slot] = sum(counts.values())
            for term, tf in counts.items():
                term_ids.append(vocab.setdefault(term, len(vocab)))
                slots.append(slot)
                tfs.append(tf)
        term_arr = np.asarray(term_ids, dtype=np.int64)
        order = np.argsort(term_arr, kind="stable")
        counts_per_term = np.bincount(term_arr, minlength=len(vocab))
        self.vocab = vocab
        self.slot_ids = np.asarray([pid for pid, _ in rows], dtype=np.int64)
        self.alive = np.ones(len(rows), dtype=bool)
        self.lengths = lengths
        self.indptr = np.concatenate(([0], np.cumsum(counts_per_term))).astype(np.int64)
        self.post_slots = np.asarray(slots, dtype=np.int32)[order]
        self.post_tfs = np.asarray(tfs, dtype=np.float32)[order]
        self.df = counts_per_term.astype(np.int32)
        self.slot_of = {int(pid): slot for slot, pid in enumerate(self.slot_ids)}
        self.delta_docs = {}
        self.delta_postings = {}
        self.dead = 0

    # --- reads ----------------------------------------------------------------------------
    def term_df(self, term: str) -> int:
        index = self.vocab.get(term)
        main = int(self.df[index]) if index is not None else 0
        return main + len(self.delta_postings.get(term, ()))

    def score(self, weights: dict[str, float], avgdl: float) -> tuple[np.ndarray, dict[int, float]]:
        """BM25 of every passage for query terms weighted by their idf (``weights``).

        Returns the main segment's scores, one per slot (dead slots zeroed), and the delta's
        scores by passage id.
        """
        scores = np.zeros(len(self.slot_ids), dtype=np.float32)
        avgdl = max(avgdl, 1e-9)
        if len(self.slot_ids):
            norm = K1 * (1 - B + B * self.lengths / avgdl)
            for term, weight in weights.items():
                index = self.vocab.get(term)
                if index is None:
                    continue
                lo, hi = self.indptr[index], self.indptr[index + 1]
                slots = self.post_slots[lo:hi]
                tf = self.post_tfs[lo:hi]
                scores[slots] += weight * tf * (K1 + 1) / (tf + norm[slots])
            scores[~self.alive] = 0.0
        delta: dict[int, float] = {}
        for term, weight in weights.items():
            for pid, tf in self.delta_postings.get(term, {}).items():
                length = sum(self.delta_docs[pid].values())
                denom = tf + K1 * (1 - B + B * length / avgdl)
                delta[pid] = delta.get(pid, 0.0) + weight * tf * (K1 + 1) / denom
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


def idf(doc_count: int, df: int) -> float:
    """BM25+ style idf that never goes negative for very common terms."""
    return float(np.log1p((doc_count - df + 0.5) / (df + 0.5)))
