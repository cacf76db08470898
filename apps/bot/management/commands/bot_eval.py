"""Run every query of a file through the answering pipeline and score its decisions."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from asgiref.sync import async_to_sync
from django.core.management import BaseCommand, CommandError

from apps.bot.answer import AnswerFinal
from apps.bot.evaluation import (
    ANSWERED,
    answer_traced,
    ask_following,
    cited_keys,
    settings_uncached,
)
from apps.bot.selectors import bot_settings_get
from apps.bot.trace import Ask, Trace
from apps.knowledge.management.commands.kb_eval import _load as queries_load
from apps.knowledge.models import Article, Collection, FAQEntry, Status
from apps.knowledge.selectors import collections_for_site
from apps.llm.services import usage_flush
from apps.sites.selectors import site_get_by_key


class Command(BaseCommand):
    help = (
        "Answer every query of QUERIES.jsonl ({id, lang, query, relevant: [external ids], "
        "optional history: [earlier visitor messages]}) with the full pipeline and the configured "
        "model chain. Covered queries (every relevant id is in the knowledge base) should be "
        "answered citing a relevant entry; uncovered ones should be declined."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("queries", type=Path)
        parser.add_argument(
            "--site", help="public key of a site: its collections, settings and model routes"
        )
        parser.add_argument("--collection", action="append", help="limit to these collections")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="ask each query alone, ignoring its history (what the follow-up rewrite adds)",
        )
        for name in ("answer", "faq"):
            parser.add_argument(
                f"--{name}-threshold",
                type=float,
                help=f"try another {name} threshold than the site's (calibration)",
            )

    def handle(self, *args: object, queries: Path, **options: Any) -> None:
        rows = _load(queries)
        site = None
        if options["site"]:
            site = site_get_by_key(public_key=options["site"])
            if site is None:
                raise CommandError(f"no site with public key {options['site']!r}")
        if site is not None:
            collections = collections_for_site(site_id=site.pk)
        elif options["collection"]:
            collections = Collection.objects.filter(name__in=options["collection"])
        else:
            collections = Collection.objects.all()
        collection_ids = tuple(sorted(collections.values_list("pk", flat=True)))
        if not collection_ids:
            raise CommandError("no collection to answer from: import something first (kb_import)")
        settings = settings_uncached(bot_settings_get(site=site) if site else None)
        for name in ("answer", "faq"):
            value = options[f"{name}_threshold"]
            if value is not None:
                if not 0 <= value <= 1:
                    raise CommandError(f"--{name}-threshold must be between 0 and 1")
                setattr(settings, f"{name}_threshold", value)
        known = _known_ids(collection_ids)
        if options["no_history"]:
            rows = [{**row, "history": []} for row in rows]
        results = async_to_sync(_run_all)(
            rows,
            Ask(
                question="",
                settings=settings,
                site_name=site.name if site else "csbot",
                site_id=site.pk if site else None,
                collection_ids=collection_ids,
                may_hand_off=False,
            ),
        )
        report = _report(rows, results, known)
        if options["json"]:
            self.stdout.write(json.dumps(report["summary"]))
            return
        self._print(report)

    def _print(self, report: dict[str, Any]) -> None:
        header = f"{'group':<14} {'covered':>7} {'correct':>8} {'wrong':>7} {'abstain':>8}"
        header += f" {'uncovered':>9} {'abstain':>8} {'answered':>8}"
        self.stdout.write(header)
        for group, figures in report["groups"].items():
            cov, unc = figures["covered"], figures["uncovered"]
            self.stdout.write(
                f"{group:<14} {cov['n']:>7} {cov['correct']:>8.3f} {cov['wrong']:>7.3f} "
                f"{cov['abstained']:>8.3f} {unc['n']:>9} {unc['abstained']:>8.3f} "
                f"{unc['answered']:>8.3f}"
            )
        latency = report["summary"]["all"]["latency_ms"]
        self.stdout.write(f"latency: p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms")
        reasons = ", ".join(f"{reason} {n}" for reason, n in report["reasons"].most_common())
        self.stdout.write(f"decisions: {reasons}")


def _known_ids(collection_ids: tuple[int, ...]) -> set[str]:
    published = {"collection_id__in": collection_ids, "status": Status.PUBLISHED}
    ids = set(Article.objects.filter(**published).values_list("external_id", flat=True))
    return ids | set(FAQEntry.objects.filter(**published).values_list("external_id", flat=True))


async def _run_all(rows: list[dict], template: Ask) -> list[tuple[Trace, AnswerFinal, float]]:
    results = []
    for row in rows:
        ask = ask_following(template, question=row["query"], history=row.get("history", ()))
        started = time.perf_counter()
        trace, final = await answer_traced(ask)
        if final is None:
            raise CommandError(f"query {row.get('id')}: the pipeline gave no final answer")
        results.append((trace, final, (time.perf_counter() - started) * 1000))
        # A chance for the usage writer and other tasks to run between queries.
        await asyncio.sleep(0)
    await usage_flush()
    return results


def _report(
    rows: list[dict], results: list[tuple[Trace, AnswerFinal, float]], known: set[str]
) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    latencies: dict[str, list[float]] = defaultdict(list)
    reasons: Counter[str] = Counter()
    for row, (trace, _, latency) in zip(rows, results, strict=True):
        relevant = set(row["relevant"])
        covered = relevant <= known
        cited = cited_keys(trace)
        answered = trace.decision in ANSWERED
        if not covered:
            outcome = "answered" if answered else "abstained"
        elif not answered:
            outcome = "abstained"
        else:
            outcome = "correct" if cited & relevant else "wrong"
        kind = "covered" if covered else "uncovered"
        reasons[f"{trace.decision}/{trace.reason}"] += 1
        source = (row["relevant"][0].split("-")[0] if row["relevant"] else "none")[:10]
        for group in ("all", row["lang"], f"{row['lang']}·{source}"):
            counts[group][f"{kind}.n"] += 1
            counts[group][f"{kind}.{outcome}"] += 1
            latencies[group].append(latency)
    groups = {group: _figures(counts[group], latencies[group]) for group in _ordered(counts)}
    summary = {g: groups[g] for g in ("all", "en", "zh") if g in groups}
    return {"summary": summary, "groups": groups, "reasons": reasons}


def _ordered(counts: dict[str, Counter[str]]) -> list[str]:
    main = [g for g in ("all", "en", "zh") if g in counts]
    return main + sorted(g for g in counts if g not in main)


def _figures(counts: Counter[str], latencies: list[float]) -> dict[str, Any]:
    def rate(kind: str, outcome: str) -> float:
        n = counts[f"{kind}.n"]
        return round(counts[f"{kind}.{outcome}"] / n, 4) if n else 0.0

    return {
        "covered": {
            "n": counts["covered.n"],
            "correct": rate("covered", "correct"),
            "wrong": rate("covered", "wrong"),
            "abstained": rate("covered", "abstained"),
        },
        "uncovered": {
            "n": counts["uncovered.n"],
            "abstained": rate("uncovered", "abstained"),
            "answered": rate("uncovered", "answered"),
        },
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 2),
            "p95": round(float(np.percentile(latencies, 95)), 2),
        },
    }


def _load(path: Path) -> list[dict]:
    """kb_eval's queries file, each row with its language (en, zh) and history checked."""
    rows = queries_load(path)
    for number, row in enumerate(rows, start=1):
        history = row.setdefault("history", [])
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise CommandError(f"{path} query {number}: history must be a list of messages")
        row["lang"] = "zh" if str(row.get("lang", "")).lower().startswith("zh") else "en"
    return rows
