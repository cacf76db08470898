"""Measure abstention signals on faq-dev: which evidence tells covered from uncovered questions.

    .venv/bin/python -m bench.faqdev_holdout ../shared/datasets/faq-dev/kb.jsonl var/kb-80.jsonl
    .venv/bin/python manage.py kb_import var/kb-80.jsonl --collection faqdev
    .venv/bin/python -m bench.abstain_signals ../shared/datasets/faq-dev/queries.jsonl \
        [--title-cosine] > signals.json

Answers every query with the pipeline at answer threshold 0 (as ``bot_eval`` does, cache off),
so each query is either *good* (covered and answered citing a relevant entry) or should be
declined. For each signal of the top usable hit it prints the ROC AUC of good against uncovered
per source, and the largest share of uncovered queries declined while covered ones are still
answered correctly >= 85 % (threshold chosen on the same data: optimistic). Combinations are
logistic regressions, held out two ways: 5 folds grouped by relevant entry, and leave one source
out; each fold's threshold is chosen on its training folds. ``--title-cosine`` adds the cosine of
the question to the top hit's title alone (one embedding per distinct title: slow). Prints one
JSON object; docs/answering.md §8 has the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.85
SOURCES = ("covidfaq", "doc2dial", "lcqmc", "cmrc")
COMBINATIONS = {
    "confidence": ["confidence"],
    "+ fused margin": ["confidence", "fused_margin"],
    "+ cosine margin": ["confidence", "cosine_margin"],
    "+ BM25/dense agreement": ["confidence", "lexical_top", "dense_top"],
    "+ title term overlap": ["confidence", "title_overlap", "question_in_title"],
    "+ language": ["confidence", "chinese"],
    "all": [
        "confidence",
        "fused_margin",
        "cosine_margin",
        "cosine",
        "lexical_top",
        "dense_top",
        "title_overlap",
        "question_in_title",
        "chinese",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("queries", type=Path)
    parser.add_argument("--title-cosine", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
    import django

    django.setup()
    rows = _answered(args.queries, title_cosine=args.title_cosine)
    names = sorted({name for row in rows for name in row["features"]})
    combos = dict(COMBINATIONS)
    if args.title_cosine:
        combos["+ title cosine"] = ["confidence", "title_cosine", "title_cosine_margin"]
        combos["all"] = [*combos["all"], "title_cosine", "title_cosine_margin"]
    report = {
        "queries": len(rows),
        "covered": sum(r["covered"] for r in rows),
        "uncovered": sum(not r["covered"] for r in rows),
        "ceiling": _ceiling(rows),
        "signals": {name: _signal(rows, name) for name in names},
        "combinations": {name: _combination(rows, features) for name, features in combos.items()},
    }
    print(json.dumps(report, indent=1))


def _answered(path: Path, *, title_cosine: bool) -> list[dict[str, Any]]:
    """Each query's outcome when answered at threshold 0, and its top hits' signals."""
    from asgiref.sync import async_to_sync

    from apps.bot.management.commands.bot_eval import _known_ids, _load, _run_all, _uncached
    from apps.bot.trace import Ask
    from apps.knowledge.models import Collection
    from apps.knowledge.search.analyzer import FUNCTION_WORDS, Analyzer, Tuning
    from apps.knowledge.search.embedders import embedder_get
    from apps.knowledge.search.hybrid import query_vectors
    from apps.knowledge.selectors import passages_search

    queries = _load(path)
    collection_ids = tuple(Collection.objects.order_by("pk").values_list("pk", flat=True))
    known = _known_ids(collection_ids)
    settings = _uncached(None)
    settings.answer_threshold = 0.0
    template = Ask(
        question="", settings=settings, site_name="bench", site_id=None,
        collection_ids=collection_ids, may_hand_off=False,
    )  # fmt: skip
    results = async_to_sync(_run_all)(queries, template)
    analyzer = Analyzer(Tuning())
    embedder = embedder_get() if title_cosine else None
    titles: dict[str, np.ndarray] = {}

    def content(text: str) -> set[str]:
        return {t.term for t in analyzer.tokens(text) if t.surface not in FUNCTION_WORDS}

    rows = []
    for query, (trace, _, _) in zip(queries, results, strict=True):
        relevant = set(query["relevant"])
        cited = {p["external_id"] for p in trace.passages if p["cited"]}
        answered = trace.decision in ("faq", "answer")
        hits = [
            h
            for h in passages_search(query=query["query"], collections=collection_ids, limit=10)
            if h.language == trace.language
        ]
        row = {
            "entry": query["relevant"][0],
            "source": query["relevant"][0].split("-")[0],
            "covered": relevant <= known,
            "good": relevant <= known and answered and bool(cited & relevant),
            "answered": answered,
            # Uncovered, yet an entry that answers it is still in the knowledge base.
            "answerable": bool(relevant & known),
            "features": {},
        }
        if hits:
            top, rest = hits[0], hits[1:]
            asked = content(query["query"])
            title = content(top.title)
            cosines = [h.semantic_score or 0.0 for h in hits]
            row["features"] = {
                "confidence": _logit(top.confidence),
                "fused_margin": top.fused_score - (rest[0].fused_score if rest else 0.0),
                "cosine": cosines[0],
                "cosine_margin": cosines[0] - max(cosines[1:], default=0.0),
                "lexical_top": float(top.lexical_score >= max(h.lexical_score for h in hits)),
                "dense_top": float(cosines[0] >= max(cosines)),
                "title_overlap": len(title & asked) / max(len(title), 1),
                "question_in_title": len(title & asked) / max(len(asked), 1),
                "chinese": float(trace.language.startswith("zh")),
            }
            if embedder is not None:
                vector = query_vectors.get(embedder, query["query"][:400])
                sims = []
                for hit in hits[:3]:
                    if hit.title not in titles:
                        titles[hit.title] = embedder.embed_passages([hit.title[:400]])[0]
                    sims.append(float(titles[hit.title] @ vector))
                row["features"]["title_cosine"] = sims[0]
                row["features"]["title_cosine_margin"] = sims[0] - max(sims[1:], default=0.0)
        rows.append(row)
    return rows


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _ceiling(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The best any abstention rule can do on these answers."""
    uncovered = [r for r in rows if not r["covered"]]
    covered = [r for r in rows if r["covered"]]
    return {
        "covered_correct_at_threshold_0": round(sum(r["good"] for r in covered) / len(covered), 4),
        "uncovered_answerable": sum(r["answerable"] for r in uncovered),
        # Declining every uncovered query that cannot be answered from what is kept.
        "uncovered_declined_if_answerable_ones_are_answered": round(
            sum(not r["answerable"] for r in uncovered) / len(uncovered), 4
        ),
    }


def _auc(good: Sequence[float], bad: Sequence[float]) -> float:
    """Probability that a good query scores above an uncovered one (ties count half)."""
    if not good or not bad:
        return float("nan")
    g, b = np.asarray(good)[:, None], np.asarray(bad)[None, :]
    return round(float(np.mean(g > b) + 0.5 * np.mean(g == b)), 3)


def _scores(rows: Sequence[dict[str, Any]], score: Callable[[dict], float]) -> np.ndarray:
    # A query without hits is always declined.
    return np.array([score(r) if r["features"] else -np.inf for r in rows])


def _outcome(rows: Sequence[dict[str, Any]], scores: np.ndarray, threshold: float) -> tuple:
    """(covered answered correctly, uncovered declined) when answering at ``threshold``."""
    answer = scores >= threshold
    good = np.array([r["good"] for r in rows])
    covered = np.array([r["covered"] for r in rows])
    answered = np.array([r["answered"] for r in rows])
    correct = np.sum(answer & good) / max(covered.sum(), 1)
    declined = np.sum(~covered & ~(answer & answered)) / max((~covered).sum(), 1)
    return float(correct), float(declined)


def _best_threshold(rows: Sequence[dict[str, Any]], scores: np.ndarray) -> float:
    """The threshold declining most uncovered queries with covered-correct >= TARGET."""
    finite = np.unique(scores[np.isfinite(scores)])
    best, best_declined = -np.inf, -1.0
    for threshold in finite[:: max(1, len(finite) // 500)]:
        correct, declined = _outcome(rows, scores, threshold)
        if correct >= TARGET and declined > best_declined:
            best, best_declined = float(threshold), declined
    return best


def _signal(rows: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    scores = _scores(rows, lambda r: r["features"][name])
    auc = {}
    for source in (*SOURCES, None):
        picked = [i for i, r in enumerate(rows) if source in (None, r["source"])]
        good = [scores[i] for i in picked if rows[i]["good"] and np.isfinite(scores[i])]
        bad = [scores[i] for i in picked if not rows[i]["covered"] and np.isfinite(scores[i])]
        auc[source or "all"] = _auc(good, bad)
    threshold = _best_threshold(rows, scores)
    correct, declined = _outcome(rows, scores, threshold)
    return {"auc": auc, "in_sample": {"correct": round(correct, 3), "declined": round(declined, 3)}}


def _fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Logistic regression (Newton's method, L2 on the weights, not the intercept)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = l2 * np.eye(xb.shape[1])
    penalty[0, 0] = 0
    for _ in range(100):
        p = 1 / (1 + np.exp(-xb @ w))
        step = np.linalg.solve(
            (xb * (p * (1 - p))[:, None]).T @ xb + penalty, xb.T @ (p - y) + penalty @ w
        )
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _combination(rows: Sequence[dict[str, Any]], features: list[str]) -> dict[str, Any]:
    usable = [r for r in rows if r["features"]]
    x = np.array([[r["features"][f] for f in features] for r in usable])
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    y = np.array([float(r["good"]) for r in usable])
    folds = {
        # Queries on one entry stay in one fold (paraphrases of a question would leak); salted,
        # or the folds would be faqdev_holdout's own split (SHA-256 of the id modulo 5).
        "grouped_5_fold": np.array(
            [
                int(hashlib.sha256(b"fold:" + r["entry"].encode()).hexdigest(), 16) % 5
                for r in usable
            ]
        ),
        "leave_one_source_out": np.array([SOURCES.index(r["source"]) for r in usable]),
    }
    out: dict[str, Any] = {}
    for name, fold in folds.items():
        held_out = np.zeros(len(usable))
        answer = np.zeros(len(usable), dtype=bool)
        for k in np.unique(fold):
            train = fold != k
            w = _fit(x[train], y[train])
            train_rows = [r for r, t in zip(usable, train, strict=True) if t]
            threshold = _best_threshold(train_rows, w[0] + x[train] @ w[1:])
            held_out[~train] = w[0] + x[~train] @ w[1:]
            answer[~train] = held_out[~train] >= threshold
        good = [s for s, r in zip(held_out, usable, strict=True) if r["good"]]
        bad = [s for s, r in zip(held_out, usable, strict=True) if not r["covered"]]
        # Held-out decisions, counted over every query (those without hits declined).
        scores = np.full(len(rows), -np.inf)
        index = {id(r): i for i, r in enumerate(rows)}
        for r, a in zip(usable, answer, strict=True):
            scores[index[id(r)]] = 1.0 if a else 0.0
        correct, declined = _outcome(rows, scores, 0.5)
        out[name] = {
            "auc": _auc(good, bad),
            "correct": round(correct, 3),
            "declined": round(declined, 3),
        }
    w = _fit(x, y)
    out["weights_standardised"] = dict(
        zip(["intercept", *features], np.round(w, 3).tolist(), strict=True)
    )
    return out


if __name__ == "__main__":
    main()
