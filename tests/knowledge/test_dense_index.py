"""The in-memory vector index: exact below its threshold, clustered lists (IVF) above it."""

from __future__ import annotations

import numpy as np
import pytest

from apps.knowledge.search.dense import DenseIndex, QuantisedColumns

DIM = 32


def _clustered(count: int, seed: int = 1, topics: int = 60) -> np.ndarray:
    """Unit vectors around a few dozen topics, sharing a common direction as e5's do."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(DIM)
    centres = rng.standard_normal((topics, DIM))
    vectors = (
        common
        + 1.5 * centres[rng.integers(topics, size=count)]
        + 0.7 * rng.standard_normal((count, DIM))
    ).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _index(vectors: np.ndarray, ann_min: int = 1000) -> DenseIndex:
    index = DenseIndex(DIM, ann_min=ann_min)
    index.upsert(enumerate(vectors))
    return index


def _ids(hits: list[tuple[int, float]]) -> list[int]:
    return [pid for pid, _ in hits]


@pytest.mark.parametrize("int8", [True, False], ids=["int8 copy", "float32 only"])
def test_small_index_searches_exactly(int8: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not int8:  # as without onnxruntime
        monkeypatch.setattr("apps.knowledge.search.dense._int8_session", lambda: None)
    elif not QuantisedColumns.available():
        pytest.skip("the int8 copy needs onnxruntime")
    vectors = _clustered(500)
    index = _index(vectors)
    assert index.centroids is None
    assert index.quantised.size == (500 if int8 else 0)
    query = vectors[7]
    expected = np.argsort(-(vectors @ query), kind="stable")[:10]
    assert _ids(index.search(query, 10)) == expected.tolist()


def _float32_scan(vectors: dict[int, np.ndarray], query: np.ndarray, limit: int) -> list:
    ids = sorted(vectors)
    sims = np.stack([vectors[pid] for pid in ids]) @ query
    return [ids[n] for n in np.argsort(-sims, kind="stable")[:limit]]


@pytest.mark.skipif(not QuantisedColumns.available(), reason="the int8 scan needs onnxruntime")
def test_the_int8_products_do_not_saturate_without_vnni() -> None:
    # Every component of one sign: the uint8 × int8 pairs are as large as they get, which an
    # AVX2-only CPU adds in 16 bits.
    rows = np.abs(_clustered(64))
    query = rows[0]
    columns = QuantisedColumns()
    columns.extend(rows, len(rows))
    assert columns.products(query) == pytest.approx(rows @ query, rel=0.02)


@pytest.mark.skipif(
    not QuantisedColumns.available(), reason="the int8 scan needs onnxruntime; float32 otherwise"
)
def test_exact_search_through_the_int8_copy_follows_every_edit() -> None:
    vectors = dict(enumerate(_clustered(900)))
    index = _index(np.stack(list(vectors.values())), ann_min=100_000)
    queries = [*_clustered(20, seed=9), *_clustered(4, seed=11)]
    added = _clustered(300, seed=8)
    index.upsert((5_000 + n, vector) for n, vector in enumerate(added))
    vectors.update((5_000 + n, vector) for n, vector in enumerate(added))
    replacements = _clustered(2, seed=11)
    index.upsert([(3, replacements[0])])  # replaced: searched by its new value only
    vectors[3] = replacements[0]
    index.remove(range(100, 400))  # enough dead slots that the index compacts itself
    for pid in range(100, 400):
        del vectors[pid]
    assert index.size == len(vectors)  # compacted: every slot moved
    index.upsert([(7_000, replacements[1])])
    vectors[7_000] = replacements[1]
    assert index.quantised.size == index.size

    def assert_exact() -> None:
        for query in queries:
            hits = index.search(query, 20)
            assert _ids(hits) == _float32_scan(vectors, query, 20)
            for pid, cosine in hits:  # rescored from the float32 rows: exact, not approximate
                assert cosine == pytest.approx(float(vectors[pid] @ query), abs=1e-6)

    assert_exact()
    # A search while an upsert on another thread has not quantised its rows yet: those rows
    # are scanned in float32.
    index.quantised = QuantisedColumns()
    index.quantised.extend(index.matrix, index.size - 50)
    assert_exact()


def test_large_index_clusters_and_probing_every_list_is_exact() -> None:
    vectors = _clustered(3020)
    index = _index(vectors[:3000])
    assert index.centroids is not None
    assert index.quantised.size == 0  # lists are scanned in float32: no int8 copy is kept
    lists = len(index.centroids)
    assert 0 < index.probe < lists
    for query in vectors[3000:]:
        assert index.search(query, 20, probe=lists) == index.search(query, 20, probe=0)


def test_probing_a_few_lists_finds_nearly_all_exact_neighbours() -> None:
    vectors = _clustered(3050)
    index = _index(vectors[:3000])
    recalls = []
    for query in vectors[3000:]:
        exact = set(_ids(index.search(query, 20, probe=0)))
        recalls.append(len(exact & set(_ids(index.search(query, 20)))) / 20)
    assert np.mean(recalls) >= 0.9
    # Cosines of what the probe finds are the exact ones, not approximations.
    query = vectors[-1]
    for pid, cosine in index.search(query, 5):
        assert cosine == pytest.approx(float(index.vector(pid) @ query), abs=1e-5)


def test_vectors_added_after_clustering_are_found_and_removed_ones_never() -> None:
    vectors = _clustered(3000)
    index = _index(vectors)
    clustered = index.clustered
    new = _clustered(5, seed=5)
    index.upsert((10_000 + n, vector) for n, vector in enumerate(new))
    assert index.clustered == clustered  # in the tail, scanned exactly by every search
    assert _ids(index.search(new[2], 1)) == [10_002]
    index.remove([10_002, 7])
    assert 10_002 not in _ids(index.search(new[2], 50))
    assert 7 not in _ids(index.search(vectors[7], 50))
    # A replaced vector is searched by its new value only.
    index.upsert([(8, new[3])])
    assert _ids(index.search(new[3], 1)) == [8]


def test_a_growing_tail_is_laid_out_into_the_lists() -> None:
    index = _index(_clustered(3000))
    centroids = index.centroids
    extra = _clustered(600, seed=6)
    index.upsert((10_000 + n, vector) for n, vector in enumerate(extra))
    assert index.clustered == index.size == 3600  # laid out again from memory
    assert index.centroids is centroids  # same lists: growth by a fifth is no reason to retrain
    # Every vector sits in the list of its nearest centroid, old ones and newly assigned alike.
    routing = (index.matrix[: index.size] - index.mean) @ centroids.T
    in_list = np.searchsorted(index.bounds, np.arange(index.size), side="right") - 1
    assert np.array_equal(in_list, np.argmax(routing, axis=1))
    for n in (0, 299, 599):
        assert _ids(index.search(extra[n], 1)) == [10_000 + n]


def test_index_retrains_when_it_doubles_and_goes_exact_when_small_again() -> None:
    index = _index(_clustered(3000))
    first = index.centroids
    index.upsert((10_000 + n, v) for n, v in enumerate(_clustered(3500, seed=7)))
    assert index.centroids is not first
    index.remove(range(10_000, 13_500))
    index.remove(range(2600))
    assert index.count == 400
    assert index.centroids is None
    remaining = _clustered(3000)[2600:]
    assert _ids(index.search(remaining[5], 1)) == [2605]


def test_every_worker_builds_the_same_lists() -> None:
    vectors = _clustered(3000)
    first, second = _index(vectors), _index(vectors)
    assert first.centroids is not None
    assert second.centroids is not None
    assert np.array_equal(first.centroids, second.centroids)
    assert np.array_equal(first.slot_ids, second.slot_ids)
