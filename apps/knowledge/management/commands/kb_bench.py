"""Benchmark knowledge search at 1k, 10k and 100k passages; prints one JSON object.

For each size: import that many synthetic bilingual FAQ entries (timed: analysis + database),
build the lexical index cold from the database (timed, memory traced), give every passage a
synthetic vector of the model's size (stored in the database as the embedder would), build the
hybrid index cold, then time searches end to end through ``passages_search`` (question text in,
ranked hits out, database reads included): BM25 alone (``CSBOT_EMBEDDINGS=off``) and hybrid
with the configured embedder, the question embedded every time (the question-vector cache is
cleared before each search). The parts are timed alone too: embedding the same questions, and
the dense search, exact and approximate, with the approximate index's recall against exact.
"""

from __future__ import annotations

import json
import os
import random
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from django.core.management import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import override_settings

from apps.knowledge.importers import ImportedEntry
from apps.knowledge.models import Collection, FAQEntry, Passage, PassageTombstone
from apps.knowledge.search.embedders import Embedder, embedder_get, vector_to_bytes
from apps.knowledge.search.engine import indexes_drop, indexes_fresh
from apps.knowledge.search.hybrid import query_vectors
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
_DENSE_QUERIES = 200
T = TypeVar("T")


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
        embedder = embedder_get()
        report: dict[str, object] = {
            "machine": {"cpus": os.cpu_count(), "load_average_start": _load_average()},
            "embedder": embedder.name if embedder else None,
            "sizes": {},
        }
        for count in counts:
            self.stderr.write(f"kb_bench: {count} passages…")
            size_rng = random.Random(seed + count)  # noqa: S311 - synthetic data
            report["sizes"][str(count)] = _bench_size(  # type: ignore[index]
                count, queries, size_rng, vocab_en, vocab_zh, embedder
            )
        report["machine"]["load_average_end"] = _load_average()  # type: ignore[index]
        self.stdout.write(json.dumps(report, indent=2))


def _load_average() -> list[float]:
    return [round(n, 2) for n in os.getloadavg()]


def _zipf_words(rng: random.Random, vocab: list[str], k: int) -> list[str]:
    # Word frequencies in help texts are roughly Zipfian: a few words everywhere, most rare.
    return [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(k)]


def _text(rng: random.Random, vocab_en: list[str], vocab_zh: list[str], k: int) -> tuple[str, str]:
    if rng.random() < 0.5:
        return " ".join(_zipf_words(rng, vocab_en, k)), "en"
    return "".join(_zipf_words(rng, vocab_zh, k)), "zh-hans"


def _question(rng: random.Random, entry: ImportedEntry) -> str:
    """Part of an entry's question, as a customer would type it (3–8 words, 4–16 characters)."""
    if entry.language == "en":
        words = entry.title.split()
        return " ".join(rng.sample(words, min(rng.randint(3, 8), len(words))))
    return entry.title[: rng.randint(4, 16)]


def _bench_size(
    count: int,
    queries: int,
    rng: random.Random,
    vocab_en: list[str],
    vocab_zh: list[str],
    embedder: Embedder | None,
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
    ids = [collection.pk]
    try:
        with override_settings(CSBOT_EMBEDDINGS="off"):
            started = time.perf_counter()
            collection_import(collection=collection, entries=entries)
            import_s = time.perf_counter() - started
        build_s, index_mb = _cold_build(ids, None)
        questions = [_question(rng, e) for e in rng.sample(entries, min(queries, count))]

        def search(question: str) -> None:
            passages_search(query=question, collections=ids, limit=10)

        with override_settings(CSBOT_EMBEDDINGS="off"):
            lexical_ms = _timed(questions, search)
        result: dict[str, object] = {
            "passages": count,
            "import_s": round(import_s, 2),
            "index_build_s": {"lexical": round(build_s, 3)},
            "index_mb": {"lexical": round(index_mb, 1)},
            "search_ms": {"lexical": lexical_ms},
        }
        with override_settings(CSBOT_EMBEDDINGS="off"):
            faq = FAQEntry.objects.filter(collection=collection).first()
            if faq is None:
                raise CommandError("the benchmark collection is empty")
            faq.answer += " edited"
            entry_save(entry=faq)
            started = time.perf_counter()
            search(questions[1 % len(questions)])
            result["first_search_after_edit_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if embedder is not None:
            result.update(_bench_dense(collection, ids, questions, embedder, rng, result))
        return result
    finally:
        Passage.objects.filter(collection=collection).delete()
        PassageTombstone.objects.filter(collection=collection).delete()
        collection.delete()
        indexes_drop()


def _bench_dense(
    collection: Collection,
    ids: list[int],
    questions: list[str],
    embedder: Embedder,
    rng: random.Random,
    result: dict[str, object],
) -> dict[str, object]:
    """Hybrid search end to end, and its parts: question embedding, dense search exact and ANN."""
    generator = np.random.default_rng(rng.randint(0, 2**32))
    topics = _vectors_store(collection, embedder, generator)
    build_s, index_mb = _cold_build(ids, embedder)
    result["index_build_s"]["hybrid"] = round(build_s, 3)  # type: ignore[index]
    result["index_mb"]["hybrid"] = round(index_mb, 1)  # type: ignore[index]

    def search(question: str) -> None:
        query_vectors.clear()  # the model runs for every question: no cached vectors
        passages_search(query=question, collections=ids, limit=10)

    hybrid_ms = _timed(questions, search)
    result["search_ms"]["hybrid"] = hybrid_ms  # type: ignore[index]
    embedding_ms = _timed(questions, lambda q: embedder.embed_queries([q]))

    (index,), _ = indexes_fresh(collection_ids=ids, embedder=embedder)
    dense = index.dense
    if dense is None:
        raise CommandError("no dense index was built")
    probes = list(_synthetic_vectors(generator, topics, _DENSE_QUERIES))
    exact: list[list[tuple[int, float]]] = []
    exact_ms = _timed(probes, lambda q: exact.append(dense.search(q, 40, probe=0)))
    approximate: list[list[tuple[int, float]]] = []
    ann_ms = _timed(probes, lambda q: approximate.append(dense.search(q, 40)))
    recall = np.mean(
        [
            len({p for p, _ in a} & {p for p, _ in e}) / max(len(e), 1)
            for a, e in zip(approximate, exact, strict=True)
        ]
    )
    return {
        "embedding_ms": embedding_ms,
        "dense_search_ms": {
            "exact": exact_ms,
            "index": ann_ms,
            "lists": 0 if dense.centroids is None else len(dense.centroids),
            "probe": dense.probe,
            "recall_at_40_vs_exact": round(float(recall), 4),
        },
    }


def _vectors_store(
    collection: Collection, embedder: Embedder, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Give every passage a synthetic unit vector, stored as ``passages_embed`` stores them.

    e5's vectors are not uniform on the sphere: they share a strong common direction (unrelated
    texts have cosines around 0.75) and related texts cluster (0.9). The synthetic ones mimic
    that, with a topic per 20 passages, so the clustered index sees lists of realistic shape.
    """
    pids = list(Passage.objects.filter(collection=collection).values_list("pk", flat=True))
    topics = _topics(generator, max(1, len(pids) // 20))
    vectors = _synthetic_vectors(generator, topics, len(pids))
    table = Passage._meta.db_table
    sql = f"UPDATE {table} SET embedding = %s, embedding_model = %s WHERE id = %s"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (vector_to_bytes(vector), embedder.name, pid)
                for pid, vector in zip(pids, vectors, strict=True)
            ],
        )
    return topics


def _topics(generator: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    common = generator.standard_normal(_DIM).astype(np.float32)
    centres = generator.standard_normal((count, _DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return common / np.linalg.norm(common), centres


def _synthetic_vectors(
    generator: np.random.Generator, topics: tuple[np.ndarray, np.ndarray], count: int
) -> np.ndarray:
    common, centres = topics
    noise = generator.standard_normal((count, _DIM)).astype(np.float32) / np.sqrt(_DIM)
    vectors = 1.8 * common + 0.8 * centres[generator.integers(len(centres), size=count)]
    vectors += 0.6 * noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _cold_build(ids: list[int], embedder: Embedder | None) -> tuple[float, float]:
    """Seconds to build the indexes from the database, as a worker's first search does, and MB."""
    indexes_drop()
    started = time.perf_counter()
    indexes_fresh(collection_ids=ids, embedder=embedder)
    build_s = time.perf_counter() - started
    indexes_drop()
    tracemalloc.start()
    indexes_fresh(collection_ids=ids, embedder=embedder)
    index_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    return build_s, index_mb


def _timed(items: Sequence[T], run: Callable[[T], object]) -> dict[str, float]:
    """p50 / p95 milliseconds of ``run`` over ``items``, after one untimed warm-up call."""
    run(items[0])
    timings = []
    for item in items:
        started = time.perf_counter()
        run(item)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50": round(float(np.percentile(timings, 50)), 2),
        "p95": round(float(np.percentile(timings, 95)), 2),
    }
