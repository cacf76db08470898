"""Measure search quality on a queries file: Recall@1, Recall@5, MRR@10 and latency."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management import BaseCommand, CommandError

from apps.knowledge.models import Collection
from apps.knowledge.selectors import passages_search


class Command(BaseCommand):
    help = (
        "Search every query of QUERIES.jsonl ({id, lang, query, relevant: [external ids]}) over "
        "the imported collections and print Recall@1, Recall@5, MRR@10 and latency."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("queries", type=Path)
        parser.add_argument("--k", type=int, default=10, help="results per query (default 10)")
        parser.add_argument("--collection", action="append", help="limit to these collections")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--calibration",
            action="store_true",
            help="also report how well the top hit's confidence predicts a correct answer",
        )

    def handle(
        self,
        *args: object,
        queries: Path,
        k: int,
        collection: list[str] | None,
        **options: object,
    ) -> None:
        if k < 5:
            raise CommandError("--k must be at least 5 (Recall@5 is reported)")
        rows = _load(queries)
        collections = list(
            Collection.objects.filter(name__in=collection)
            if collection
            else Collection.objects.all()
        )
        if not collections:
            raise CommandError("no collection to search: import something first (kb_import)")
        # A first search builds the indexes: not part of the latency figures.
        passages_search(query="warm up", collections=collections, limit=1)
        sums: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        latencies = []
        top_hits: list[tuple[float, bool]] = []  # (confidence, correct) of each first hit
        for row in rows:
            started = time.perf_counter()
            hits = passages_search(query=row["query"], collections=collections, limit=k * 3)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked = list(dict.fromkeys(hit.external_id for hit in hits))[:k]
            relevant = set(row["relevant"])
            if hits:
                top_hits.append((hits[0].confidence, hits[0].external_id in relevant))
            first = next((n for n, ext in enumerate(ranked, start=1) if ext in relevant), None)
            metrics = {
                "recall@1": len(relevant & set(ranked[:1])) / min(1, len(relevant)),
                "recall@5": len(relevant & set(ranked[:5])) / min(5, len(relevant)),
                "mrr@10": 1.0 / first if first is not None and first <= 10 else 0.0,
            }
            for group in ("all", row["lang"]):
                sums[group]["queries"] += 1
                for name, value in metrics.items():
                    sums[group][name] += value
        result: dict[str, Any] = {}
        for group in sorted(sums, key=lambda g: (g != "all", g)):
            n = sums[group]["queries"]
            result[group] = {"queries": int(n)} | {
                name: round(sums[group][name] / n, 4) for name in ("recall@1", "recall@5", "mrr@10")
            }
        result["latency_ms"] = {
            "p50": round(float(np.percentile(latencies, 50)), 2),
            "p95": round(float(np.percentile(latencies, 95)), 2),
        }
        if options["calibration"]:
            result["calibration"] = _calibration(top_hits)
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"{'group':<8} {'queries':>7} {'R@1':>7} {'R@5':>7} {'MRR@10':>7}")
        for group, m in result.items():
            if group not in {"latency_ms", "calibration"}:
                self.stdout.write(
                    f"{group:<8} {m['queries']:>7} {m['recall@1']:>7.3f} {m['recall@5']:>7.3f} "
                    f"{m['mrr@10']:>7.3f}"
                )
        lat = result["latency_ms"]
        self.stdout.write(f"search latency: p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms")
        if options["calibration"]:
            cal = result["calibration"]
            self.stdout.write(f"calibration of the top hit: ECE {cal['ece']:.3f}")
            for threshold, row in cal["thresholds"].items():
                self.stdout.write(
                    f"  confidence ≥ {threshold}: answers {row['answered']:.1%} of questions, "
                    f"{row['precision']:.1%} of them correctly"
                )


def _load(path: Path) -> list[dict]:
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row["query"], str) or not isinstance(row["relevant"], list):
                raise TypeError
            row.setdefault("lang", "all")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CommandError(
                f"{path} line {number}: expected {{id, lang, query, relevant}}"
            ) from exc
        rows.append(row)
    if not rows:
        raise CommandError(f"{path}: no queries")
    return rows


def _calibration(top_hits: list[tuple[float, bool]]) -> dict[str, object]:
    """Expected calibration error over ten bins, and answer rate/precision at thresholds."""
    if not top_hits:
        return {"ece": 0.0, "thresholds": {}}
    confidence = np.array([c for c, _ in top_hits])
    correct = np.array([ok for _, ok in top_hits], dtype=float)
    ece = 0.0
    for low in np.arange(0, 1, 0.1):
        in_bin = (confidence >= low) & (confidence < low + 0.1 if low < 0.9 else confidence <= 1)
        if in_bin.any():
            ece += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    thresholds = {}
    for threshold in (0.5, 0.7, 0.8, 0.9):
        answered = confidence >= threshold
        thresholds[str(threshold)] = {
            "answered": round(float(answered.mean()), 4),
            "precision": round(float(correct[answered].mean()), 4) if answered.any() else 0.0,
        }
    return {"ece": round(float(ece), 4), "thresholds": thresholds}
