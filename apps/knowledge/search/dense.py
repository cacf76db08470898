"""An in-memory matrix of passage vectors, searched by cosine similarity.

Below ``ANN_MIN`` vectors the search is exact: every vector is scored, through an int8 copy of
the matrix where ONNX Runtime is installed, and the best candidates are scored again with their
float32 rows, so the cosines returned are exact (``QuantisedColumns``). Above it the vectors
are clustered (IVF, as faiss's ``IndexIVFFlat``): spherical k-means puts each vector in the list
of its nearest centroid, the matrix is kept in list order, and a question scans only the lists
of its ``probe`` nearest centroids, with exact cosines. Exact search at 100k passages streams
150 MB per question and is bound by memory bandwidth (20–50 ms on the shared 2-core machine);
the lists cut that to about an eighth.

Vectors added since the clustering sit in a tail that every search scans exactly, like the
lexical index's delta; the lists are laid out again from memory when the tail or the deleted
slots grow past a fraction, and the centroids are trained again when the collection has grown
or shrunk by half. Clustering is seeded: every worker builds the same lists.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

COMPACT_FRACTION = 0.2
# Vectors before the index clusters itself; below, exact search costs at most a few ms.
ANN_MIN = 20_000
# Lists scanned per question, as a share of all lists (at least PROBE_MIN lists). On faq-dev's
# e5 vectors, 2√n lists probed an eighth at a time keep every relevant passage that exact search
# finds among the 40 nearest (docs/knowledge.md, "Search latency").
PROBE_FRACTION = 1 / 8
PROBE_MIN = 8
# Tail (vectors added since the lists were laid out) scanned exactly before a relayout.
TAIL_FRACTION = 0.1
KMEANS_ITERATIONS = 8
KMEANS_SAMPLE_PER_LIST = 40
_CHUNK = 8192
_SEED = 20241121
# Candidates the int8 scan passes on to exact rescoring, beyond the ``limit`` asked for: a
# quantised cosine is off by a few thousandths, more than the gaps between neighbours.
RESCORE_EXTRA = 32


class DenseIndex:
    """Vectors of one collection's passages, with in-place replace and delete."""

    def __init__(self, dim: int = 0, *, ann_min: int = ANN_MIN) -> None:
        # 0: taken from the first vector stored (a gateway model's size is known only then).
        self.dim = dim
        self.ann_min = ann_min
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self.slot_ids = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.size = 0
        self.slot_of: dict[int, int] = {}
        # IVF: unit centroids, and slots [bounds[l], bounds[l + 1]) form list l; slots from
        # ``clustered`` on are the tail. ``trained_on``: live vectors when the centroids were made.
        self.centroids: np.ndarray | None = None
        self.mean = np.zeros(dim, dtype=np.float32)
        self.bounds = np.zeros(1, dtype=np.int64)
        self.clustered = 0
        self.trained_on = 0
        self.quantised = QuantisedColumns()

    @property
    def count(self) -> int:
        return len(self.slot_of)

    @property
    def probe(self) -> int:
        """Lists scanned per question (0 when the search is exact)."""
        if self.centroids is None:
            return 0
        lists = len(self.centroids)
        return min(lists, max(PROBE_MIN, math.ceil(lists * PROBE_FRACTION)))

    def nbytes(self) -> int:
        centroids = 0 if self.centroids is None else self.centroids.nbytes
        return (
            self.matrix.nbytes
            + self.slot_ids.nbytes
            + self.alive.nbytes
            + centroids
            + self.quantised.nbytes()
        )

    def upsert(self, rows: Iterable[tuple[int, np.ndarray]]) -> None:
        rows = list(rows)
        if not self.dim and rows:
            self.dim = len(rows[0][1])
            self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        rows = [(pid, vec) for pid, vec in rows if vec.shape == (self.dim,)]
        self._remove(pid for pid, _ in rows)
        if rows:
            self._reserve(self.size + len(rows))
            for pid, vector in rows:
                self.matrix[self.size] = vector
                self.slot_ids[self.size] = pid
                self.alive[self.size] = True
                self.slot_of[pid] = self.size
                self.size += 1
        self._maintain()
        self._quantise()

    def remove(self, passage_ids: Iterable[int]) -> None:
        self._remove(passage_ids)
        self._maintain()
        self._quantise()

    def vector(self, passage_id: int) -> np.ndarray | None:
        slot = self.slot_of.get(passage_id)
        return None if slot is None else self.matrix[slot]

    def search(
        self, query: np.ndarray, limit: int, *, probe: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``limit`` most similar passages as (passage id, cosine), best first.

        ``probe`` overrides how many lists a clustered index scans (benchmarks compare it with
        exact search, ``probe=0``).
        """
        if not self.slot_of or query.shape != (self.dim,):
            return []
        query = query.astype(np.float32, copy=False)
        probe = self.probe if probe is None else probe
        if self.centroids is None and QuantisedColumns.available():
            return self._search_quantised(query, limit)
        if self.centroids is None or probe <= 0 or probe >= len(self.centroids):
            slots = np.arange(self.size)
            sims = self.matrix[: self.size] @ query
        else:
            routing = self.centroids @ (query - self.mean)
            nearest = np.argpartition(-routing, probe - 1)[:probe]
            ranges = [(int(self.bounds[n]), int(self.bounds[n + 1])) for n in nearest]
            ranges.append((self.clustered, self.size))
            # Each list is a contiguous block: one small product per list, no gather copy.
            slots = np.concatenate([np.arange(lo, hi) for lo, hi in ranges])
            sims = np.concatenate([self.matrix[lo:hi] @ query for lo, hi in ranges])
        sims[~self.alive[slots]] = -np.inf
        limit = min(limit, len(slots))
        top = np.argpartition(-sims, limit - 1)[:limit]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(self.slot_ids[slots[n]]), float(sims[n])) for n in top if sims[n] > -np.inf]

    def _search_quantised(self, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
        size = self.size
        approximate = self.quantised.products(query)[:size]
        if len(approximate) < size:  # rows an upsert on another thread has not quantised yet
            approximate = np.concatenate(
                [approximate, self.matrix[len(approximate) : size] @ query]
            )
        approximate[~self.alive[:size]] = -np.inf
        pool = min(limit + RESCORE_EXTRA, size)
        slots = np.argpartition(-approximate, pool - 1)[:pool]
        slots = slots[approximate[slots] > -np.inf]
        sims = self.matrix[slots] @ query
        # Slot order breaks ties, as in the float32 scan.
        order = np.lexsort((slots, -sims))[:limit]
        return [(int(self.slot_ids[slots[n]]), float(sims[n])) for n in order]

    def _quantise(self) -> None:
        """Bring the int8 copy up to date.

        A clustered index scans float32 lists and keeps the copy empty: ``_layout``, which
        clusters, starts a new one.
        """
        if self.centroids is None and QuantisedColumns.available():
            self.quantised.extend(self.matrix, self.size)

    def _remove(self, passage_ids: Iterable[int]) -> None:
        for pid in passage_ids:
            slot = self.slot_of.pop(pid, None)
            if slot is not None:
                self.alive[slot] = False

    def _maintain(self) -> None:
        """Cluster, re-train, lay out again or compact when the thresholds say so."""
        live = len(self.slot_of)
        if live >= self.ann_min and (
            self.centroids is None or not self.trained_on / 2 <= live <= self.trained_on * 2
        ):
            self._layout(train=True)
            return
        if self.centroids is not None and live < self.ann_min // 2:
            self.centroids = None  # small again: exact search is cheaper than probing
            self._layout(train=False)
            return
        dead = self.size - live
        tail = self.size - self.clustered if self.centroids is not None else 0
        if (dead > 64 and dead > COMPACT_FRACTION * self.size) or (
            tail > 64 and tail > TAIL_FRACTION * self.size
        ):
            self._layout(train=False)

    def _layout(self, *, train: bool) -> None:
        """Drop dead slots and, when clustered, order the live vectors by their list."""
        keep = np.flatnonzero(self.alive[: self.size])
        matrix = self.matrix[keep]
        if train:
            # Lists are made around the mean: e5 vectors share one strong direction, and
            # around the origin a few central lists took half of every probe (measured).
            self.mean = matrix.mean(axis=0)
            self.centroids = _kmeans(matrix - self.mean, _list_count(len(keep)))
            self.trained_on = len(keep)
        if self.centroids is not None:
            if train:
                lists = _nearest(matrix, self.centroids, self.mean)
            else:
                # Slots already in a list stay in it; only the tail is assigned (at 100k, all
                # of them would cost a second of CPU on the search that triggers the layout).
                lists = np.empty(len(keep), dtype=np.int64)
                known = keep < self.clustered
                lists[known] = np.searchsorted(self.bounds, keep[known], side="right") - 1
                lists[~known] = _nearest(matrix[~known], self.centroids, self.mean)
            order = np.argsort(lists, kind="stable")
            keep, matrix = keep[order], matrix[order]
            counts = np.bincount(lists, minlength=len(self.centroids))
            self.bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.matrix = np.ascontiguousarray(matrix)
        self.slot_ids = self.slot_ids[keep].copy()
        self.alive = np.ones(len(keep), dtype=bool)
        self.size = self.clustered = len(keep)
        self.slot_of = {int(pid): slot for slot, pid in enumerate(self.slot_ids)}
        self.quantised = QuantisedColumns()  # every slot moved

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


# Columns use 7 bits, not 8. Without VNNI (AVX2 only, as on the AMD EPYC machines here) the
# kernel adds pairs of uint8 × int8 products in 16 bits and saturates: with the query's full
# 0–255 range and ±127 columns, products came out wrong by up to 80,000 and exact search
# missed true top-20 hits; with ±63 columns a pair stays under 32,767 (ONNX Runtime's
# "reduce_range"). The float32 rescoring of the best candidates makes up the lost bit.
_COLUMN_LEVELS = 63


class QuantisedColumns:
    """An int8 copy of a matrix's rows, transposed, scored by ONNX Runtime's VNNI kernel.

    Exact search at 10k passages reads 15 MB of float32 per question, and just after the
    question's model run has pushed them out of the cache that took 1.0–1.4 ms; the int8 copy,
    a quarter of the bytes, takes 0.4–0.5 ms (docs/knowledge.md, *Search latency*). Each row
    has its own scale. Slots are only ever appended or all moved (``DenseIndex._layout``, which
    starts a new copy), so the copy follows by quantising the slots added since. Searches run
    beside an index's refresh without its lock: they read one snapshot of the copy, and the
    refresh writes only past the snapshot's end, or into new arrays.
    """

    def __init__(self) -> None:
        # (columns, scales, slots quantised)
        self._snapshot = (np.zeros((0, 0), dtype=np.int8), np.zeros(0, dtype=np.float32), 0)

    @staticmethod
    def available() -> bool:
        return _int8_session() is not None

    @property
    def size(self) -> int:
        return self._snapshot[2]

    def nbytes(self) -> int:
        columns, scales, _ = self._snapshot
        return columns.nbytes + scales.nbytes

    def products(self, query: np.ndarray) -> np.ndarray:
        """Approximately ``matrix[:self.size] @ query``."""
        columns, scales, size = self._snapshot
        query_scale = max(float(np.abs(query).max()), 1e-12) / 127
        # Unsigned with zero point 128: the kernel multiplies uint8 by int8.
        query_u8 = (np.rint(query / query_scale) + 128).astype(np.uint8).reshape(1, -1)
        (products,) = _int8_session().run(None, {"query": query_u8, "columns": columns})
        return products[0, :size] * (scales[:size] * query_scale)

    def extend(self, matrix: np.ndarray, size: int) -> None:
        """Quantise ``matrix``'s rows from ``self.size`` up to ``size`` (by the index's writer)."""
        columns, scales, done = self._snapshot
        if size <= done:
            return
        if size > columns.shape[1]:
            # The kernel scores every column, spare ones too: grow by an eighth, not double.
            capacity = size + max(size // 8, 256)
            grown = np.zeros((matrix.shape[1], capacity), dtype=np.int8)
            grown_scales = np.zeros(capacity, dtype=np.float32)
            if done:
                grown[:, :done], grown_scales[:done] = columns[:, :done], scales[:done]
            columns, scales = grown, grown_scales
        rows = matrix[done:size]
        row_scales = np.maximum(np.abs(rows).max(axis=1), 1e-12) / _COLUMN_LEVELS
        columns[:, done:size] = np.rint(rows / row_scales[:, None]).astype(np.int8).T
        scales[done:size] = row_scales
        self._snapshot = (columns, scales, size)


@lru_cache(maxsize=1)
def _int8_session() -> Any:
    """A one-node ONNX Runtime graph, uint8 query × int8 columns, or None without the package."""
    if not all(importlib.util.find_spec(package) for package in ("onnx", "onnxruntime")):
        return None
    from onnx import TensorProto, helper

    from .e5_onnx import onnx_session

    node = helper.make_node("MatMulInteger", ["query", "columns", "zero_point"], ["products"])
    graph = helper.make_graph(
        [node],
        "dense-int8",
        [
            helper.make_tensor_value_info("query", TensorProto.UINT8, [1, "dim"]),
            helper.make_tensor_value_info("columns", TensorProto.INT8, ["dim", "slots"]),
        ],
        [helper.make_tensor_value_info("products", TensorProto.INT32, [1, "slots"])],
        [helper.make_tensor("zero_point", TensorProto.UINT8, [], [128])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return onnx_session(model.SerializeToString())


def _list_count(vectors: int) -> int:
    # 2√n lists (faiss's rule of thumb is 1–16 √n): on faq-dev's vectors, for the same share
    # scanned, √n lists lost relevant passages and 4√n made training four times dearer.
    return max(1, round(2 * math.sqrt(vectors)))


def _nearest(
    vectors: np.ndarray, centroids: np.ndarray, mean: np.ndarray | None = None
) -> np.ndarray:
    """Index of each vector's most similar centroid (around ``mean``), in chunks."""
    out = np.empty(len(vectors), dtype=np.int64)
    for lo in range(0, len(vectors), _CHUNK):
        chunk = vectors[lo : lo + _CHUNK]
        if mean is not None:
            chunk = chunk - mean
        out[lo : lo + _CHUNK] = np.argmax(chunk @ centroids.T, axis=1)
    return out


def _kmeans(vectors: np.ndarray, lists: int) -> np.ndarray:
    """Spherical k-means on a seeded sample: unit centroids, vectors assigned by dot product."""
    rng = np.random.default_rng(_SEED)
    sample_size = min(len(vectors), lists * KMEANS_SAMPLE_PER_LIST)
    sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(KMEANS_ITERATIONS):
        assigned = _nearest(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assigned, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        filled = norms[:, 0] > 0
        # An empty list keeps its old centroid rather than vanishing.
        centroids[filled] = sums[filled] / norms[filled]
    return centroids
