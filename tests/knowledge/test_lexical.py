from __future__ import annotations

import random

import numpy as np
import pytest

from apps.knowledge.search import lexical
from apps.knowledge.search.lexical import LexicalDoc, LexicalIndex, idf

WORDS = [f"w{n}" for n in range(60)]


def _docs(rng: random.Random, ids: range) -> list[LexicalDoc]:
    return [LexicalDoc(pid, rng.choices(WORDS, k=rng.randint(1, 30))) for pid in ids]


def _ranking(index: LexicalIndex, query: list[str]) -> dict[int, float]:
    weights = {t: idf(index.doc_count, index.term_df(t)) for t in query if index.term_df(t)}
    avgdl = index.total_length / max(index.doc_count, 1)
    scores, delta = index.score(weights, avgdl)
    out = {int(index.slot_ids[s]): float(scores[s]) for s in np.flatnonzero(scores)}
    out.update({pid: score for pid, score in delta.items() if score})
    return out


def test_bm25_ranks_the_document_with_the_rare_term_first() -> None:
    index = LexicalIndex()
    index.build(
        [
            LexicalDoc(1, ["lamp", "refund"]),
            LexicalDoc(2, ["lamp", "lamp"]),
            LexicalDoc(3, ["bulb"]),
        ]
    )
    ranking = _ranking(index, ["lamp", "refund"])
    assert max(ranking, key=ranking.get) == 1
    assert 3 not in ranking


def test_incremental_updates_score_like_a_fresh_build() -> None:
    rng = random.Random(7)
    live = {d.passage_id: d for d in _docs(rng, range(200))}
    index = LexicalIndex()
    index.build(live.values())
    for step in range(300):
        if step % 3 == 0:
            gone = rng.choice(list(live))
            del live[gone]
            index.remove([gone])
        else:
            pid = rng.randint(0, 400)  # sometimes new, sometimes a replacement
            (doc,) = _docs(rng, range(pid, pid + 1))
            live[pid] = doc
            index.upsert([doc])
    fresh = LexicalIndex()
    fresh.build(live.values())
    assert index.doc_count == fresh.doc_count == len(live)
    for query in (["w1", "w2"], ["w5"], ["w10", "w11", "w59"]):
        got, want = _ranking(index, query), _ranking(fresh, query)
        assert got.keys() == want.keys()
        # Dead slots still count in document frequencies until the next merge: a bounded
        # difference, none at all right after a merge.
        assert got == pytest.approx(want, rel=1e-5 if index.dead == 0 else 0.2)
    assert index.dead <= max(lexical.MERGE_MIN, lexical.MERGE_FRACTION * len(index.slot_ids))


def test_contains_tells_which_terms_a_passage_has_in_both_segments() -> None:
    index = LexicalIndex()
    index.build([LexicalDoc(1, ["a", "b"]), LexicalDoc(2, ["c"])])
    index.upsert([LexicalDoc(3, ["d"])])
    assert index.contains(1, "b")
    assert not index.contains(1, "c")
    assert index.contains(3, "d")
    assert not index.contains(99, "a")


def test_removed_passages_never_score() -> None:
    index = LexicalIndex()
    index.build([LexicalDoc(1, ["lamp"]), LexicalDoc(2, ["lamp"])])
    index.remove([1])
    assert set(_ranking(index, ["lamp"])) == {2}
    index.upsert([LexicalDoc(2, ["bulb"])])
    assert _ranking(index, ["lamp"]) == {}


def test_idf_stays_positive_for_terms_in_every_document() -> None:
    assert idf(10, 10) > 0
    assert idf(10, 1) > idf(10, 5)
