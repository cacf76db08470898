"""Benchmark knowledge search at 1k, 10k and 100k passages; prints one JSON object.

For each size: import that many synthetic bilingual FAQ entries (timed: analysis + database),
build the search index cold from the database (timed, and its memory traced), run searches
through ``passages_search`` (p50/p95), and time the first search after an edit (incremental
catch-up). Dense search cost is measured on random unit vectors of the model's size, plus the
cost of embedding one question with the configured embedder.
"""

from __future__ import annotations

import json
import os
import random
import time
import tracemalloc

import numpy as np
from django.core.management import BaseCommand, CommandError
from django.test import override_settings

from apps.knowledge.importers import ImportedEntry
from apps.knowledge.models import Collection, FAQEntry, Passage, PassageTombstone
from apps.knowledge.search.dense import DenseIndex
from apps.knowledge.search.embedders import embedder_get
from apps.knowledge.search.engine import indexes_drop, indexes_fresh
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import collection_create, entry_save
from apps.knowledge.services.imports import collection_import

_SYLLABLES = tuple(c + v for c in "bcdfglmnprstvz" for v in "aeiou")
# Common Han characters, for synthetic Chinese words.
_HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    "同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"
    "二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
    "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变"
    "条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指"
    "几九区强放决西被干做必战先回则任取据处理府研质"
)
_DIM = 384


class Command(BaseCommand):
    help = "Benchmark import, index build, memory and search latency at several sizes (JSON)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated")
        parser.add_argument("--queries", type=int, default=300)
        parser.add_argument("--seed", type=int, default=20240611)

    def handle(self, *args: object, sizes: str, queries: int, seed: int, **options: object) -> None:
        try:
            counts = [int(s) for s in sizes.split(",") if s.strip()]
        except ValueError as exc:
            raise CommandError("--sizes must be numbers, e.g. 1000,10000") from exc
        rng = random.Random(seed)  # noqa: S311 - synthetic test data, not secrets
        vocab_en = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(6000)]
        vocab_zh = ["".join(rng.choices(_HAN, k=rng.randint(1, 3))) for _ in range(6000)]
        report: dict[str, object] = {
            "machine": {"cpus": os.cpu_count()},
            "embedding_query_ms": _embedding_cost(),
            "sizes": {},
        }
        for count in counts:
            self.stderr.write(f"kb_bench: {count} passages…")
            with override_settings(CSBOT_EMBEDDINGS="off"):
                size_rng = random.Random(seed + count)  # noqa: S311 - synthetic data
                report["sizes"][str(count)] = _bench_size(  # type: ignore[index]
                    count, queries, size_rng, vocab_en, vocab_zh
                )
        self.stdout.write(json.dumps(report, indent=2))


def _zipf_words(rng: random.Random, vocab: list[str], k: int) -> list[str]:
    # Word frequencies in help texts are roughly Zipfian: a few words everywhere, most rare.
    return [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(k)]


def _text(rng: random.Random, vocab_en: list[str], vocab_zh: list[str], k: int) -> tuple[str, str]:
    if rng.random() < 0.5:
        return " ".join(_zipf_words(rng, vocab_en, k)), "en"
    return "".join(_zipf_words(rng, vocab_zh, k)), "zh-hans"


def _bench_size(
    count: int, queries: int, rng: random.Random, vocab_en: list[str], vocab_zh: list[str]
) -> dict[str, object]:
    Collection.objects.filter(name=f"kb-bench-{count}").delete()
    collection = collection_create(name=f"kb-bench-{count}")
    entries = []
    for n in range(count):
        question, language = _text(rng, vocab_en, vocab_zh, rng.randint(5, 12))
        answer, _ = _text(rng, vocab_en, vocab_zh, rng.randint(20, 60))
        entries.append(
            ImportedEntry(
                kind="faq", external_id=f"b{n}", title=question, body=answer, language=language
            )
        )
    try:
        started = time.perf_counter()
        collection_import(collection=collection, entries=entries)
        import_s = time.perf_counter() - started

        indexes_drop()
        started = time.perf_counter()
        indexes_fresh(collection_ids=[collection.pk], embedder=None)
        build_s = time.perf_counter() - started
        indexes_drop()
        tracemalloc.start()
        indexes_fresh(collection_ids=[collection.pk], embedder=None)
        index_mb = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()

        questions = [
            " ".join(rng.sample(e.title.split(), min(3, len(e.title.split()))))
            if e.language == "en"
            else e.title[: rng.randint(4, 10)]
            for e in rng.sample(entries, min(queries, count))
        ]
        passages_search(query=questions[0], collections=[collection], limit=10)
        latencies = []
        for question in questions:
            started = time.perf_counter()
            passages_search(query=question, collections=[collection], limit=10)
            latencies.append((time.perf_counter() - started) * 1000)

        faq = FAQEntry.objects.filter(collection=collection).first()
        if faq is None:
            raise CommandError("the benchmark collection is empty")
        faq.answer += " edited"
        entry_save(entry=faq)
        started = time.perf_counter()
        passages_search(query=questions[1], collections=[collection], limit=10)
        refresh_ms = (time.perf_counter() - started) * 1000

        return {
            "passages": count,
            "import_s": round(import_s, 2),
            "index_build_s": round(build_s, 3),
            "index_mb": round(index_mb, 1),
            "search_ms": _percentiles(latencies),
            "first_search_after_edit_ms": round(refresh_ms, 2),
            "dense_search_ms": _dense_cost(count, rng),
        }
    finally:
        Passage.objects.filter(collection=collection).delete()
        PassageTombstone.objects.filter(collection=collection).delete()
        collection.delete()
        indexes_drop()


def _percentiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
    }


def _dense_cost(count: int, rng: random.Random) -> dict[str, float]:
    """Exact cosine search over ``count`` random vectors: the dense side without the model."""
    generator = np.random.default_rng(rng.randint(0, 2**32))
    vectors = generator.standard_normal((count, _DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DenseIndex(_DIM)
    index.upsert(zip(range(count), vectors, strict=True))
    timings = []
    for _ in range(100):
        query = vectors[generator.integers(count)]
        started = time.perf_counter()
        index.search(query, 40)
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


def _embedding_cost() -> dict[str, float] | None:
    """Milliseconds to embed one question with the configured embedder (None when off)."""
    embedder = embedder_get()
    if embedder is None:
        return None
    questions = [
        "How long does delivery take to Shanghai?",
        "我的智能灯泡连不上家里的无线网络怎么办",
        "Can I return a lamp I already opened?",
        "退款一般几天到账",
    ]
    embedder.embed_queries(questions[:1])
    timings = []
    for question in questions * 5:
        started = time.perf_counter()
        embedder.embed_queries([question])
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)
