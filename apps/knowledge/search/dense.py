"""An in-memory matrix of passage vectors, searched by exact cosine similarity.

Exact search over float32 is a single matrix-vector product: about 4 ms for 100k passages of
384 dimensions on one core, so no approximate index is needed at help-centre sizes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

COMPACT_FRACTION = 0.2


class DenseIndex:
    """Vectors of one collection's passages, with in-place replace and delete."""

    def __init__(self, dim: int = 0) -> None:
        # 0: taken from the first vector stored (a gateway model's size is known only then).
        self.dim = dim
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self.slot_ids = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.size = 0
        self.slot_of: dict[int, int] = {}

    @property
    def count(self) -> int:
        return len(self.slot_of)

    def nbytes(self) -> int:
        return self.matrix.nbytes + self.slot_ids.nbytes + self.alive.nbytes

    def upsert(self, rows: Iterable[tuple[int, np.ndarray]]) -> None:
        rows = list(rows)
        if not self.dim and rows:
            self.dim = len(rows[0][1])
            self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        rows = [(pid, vec) for pid, vec in rows if vec.shape == (self.dim,)]
        self.remove(pid for pid, _ in rows)
        if not rows:
            return
        self._reserve(self.size + len(rows))
        for pid, vector in rows:
            self.matrix[self.size] = vector
            self.slot_ids[self.size] = pid
            self.alive[self.size] = True
            self.slot_of[pid] = self.size
            self.size += 1

    def remove(self, passage_ids: Iterable[int]) -> None:
        for pid in passage_ids:
            slot = self.slot_of.pop(pid, None)
            if slot is not None:
                self.alive[slot] = False
        dead = self.size - len(self.slot_of)
        if dead > 64 and dead > COMPACT_FRACTION * self.size:
            self._compact()

    def vector(self, passage_id: int) -> np.ndarray | None:
        slot = self.slot_of.get(passage_id)
        return None if slot is None else self.matrix[slot]

    def search(self, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` most similar passages as (passage id, cosine), best first."""
        if not self.slot_of or query.shape != (self.dim,):
            return []
        sims = self.matrix[: self.size] @ query.astype(np.float32)
        sims[~self.alive[: self.size]] = -np.inf
        limit = min(limit, len(self.slot_of))
        top = np.argpartition(-sims, limit - 1)[:limit]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(self.slot_ids[s]), float(sims[s])) for s in top]

    def _reserve(self, needed: int) -> None:
        if needed <= len(self.slot_ids):
            return
        capacity = max(needed, 2 * len(self.slot_ids), 256)
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        matrix[: self.size] = self.matrix[: self.size]
        slot_ids = np.zeros(capacity, dtype=np.int64)
        slot_ids[: self.size] = self.slot_ids[: self.size]
        alive = np.zeros(capacity, dtype=bool)
        alive[: self.size] = self.alive[: self.size]
        self.matrix, self.slot_ids, self.alive = matrix, slot_ids, alive

    def _compact(self) -> None:
        keep = np.flatnonzero(self.alive[: self.size])
        self.matrix = self.matrix[keep].copy()
        self.slot_ids = self.slot_ids[keep].copy()
        self.alive = np.ones(len(keep), dtype=bool)
        self.size = len(keep)
        self.slot_of = {int(pid): slot for slot, pid in enumerate(self.slot_ids)}
