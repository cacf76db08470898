"""The per-process search indexes, kept in step with the database.

Every search first reads each collection's ``version`` (and the tuning version) in one small
query. An index behind its collection catches up incrementally: it loads the passages written
after its version and drops the passages tombstoned after it. Writers bump the version in the
same transaction as the passages (``services``), so an admin's edit is searchable by the next
search on every worker, with no restart and no message bus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from django.db import connection

from apps.knowledge.models import Collection, Passage, PassageTombstone, TuningState
from apps.knowledge.search.analyzer import Analyzer, Tuning, analyzer_for
from apps.knowledge.search.dense import DenseIndex
from apps.knowledge.search.embedders import Embedder, vector_from_bytes
from apps.knowledge.search.lexical import LexicalDoc, LexicalIndex

_LOAD_BATCH = 2000


@dataclass
class CollectionIndex:
    collection_id: int
    version: int = -1
    embedding_model: str = ""
    lexical: LexicalIndex = field(default_factory=LexicalIndex)
    dense: DenseIndex | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def nbytes(self) -> int:
        return self.lexical.nbytes() + (self.dense.nbytes() if self.dense else 0)


_indexes: dict[int, CollectionIndex] = {}
_indexes_lock = threading.Lock()
_tuning: Tuning = Tuning(version=-1)
_tuning_lock = threading.Lock()


def tuning_load() -> Tuning:
    """Read the admin's dictionary, synonyms and protected patterns from the database."""
    from apps.knowledge.models import DictionaryWord, ProtectedPattern, SynonymGroup

    state = TuningState.objects.filter(pk=1).values_list("version", flat=True).first()
    return Tuning(
        version=state or 0,
        words=tuple(DictionaryWord.objects.order_by("word").values_list("word", "frequency")),
        synonyms=tuple(tuple(g.term_list) for g in SynonymGroup.objects.order_by("pk")),
        patterns=tuple(
            ProtectedPattern.objects.filter(is_active=True)
            .order_by("pk")
            .values_list("pattern", flat=True)
        ),
    )


def analyzer_current(version: int | None = None) -> Analyzer:
    """The analyzer for the tuning in the database (``version`` when the caller just read it)."""
    global _tuning
    if version is None:
        version = TuningState.objects.filter(pk=1).values_list("version", flat=True).first() or 0
    with _tuning_lock:
        if _tuning.version != version:
            _tuning = tuning_load()
        return analyzer_for(_tuning)


def indexes_fresh(
    *, collection_ids: list[int], embedder: Embedder | None
) -> tuple[list[CollectionIndex], Analyzer]:
    """Return up-to-date indexes of the collections and the analyzer their terms came from."""
    rows = versions_read(collection_ids)
    tuning_version = next((row[3] for row in rows), None) or 0
    analyzer = analyzer_current(tuning_version)
    model = embedder.name if embedder else ""
    found = {row[0] for row in rows}
    with _indexes_lock:
        for gone in set(collection_ids) - found:
            _indexes.pop(gone, None)  # a deleted collection's index would only take memory
    out = []
    for pk, version, pruned, _ in rows:
        with _indexes_lock:
            index = _indexes.setdefault(pk, CollectionIndex(collection_id=pk))
        with index.lock:
            if index.version != version or index.embedding_model != model:
                _refresh(index, version=version, pruned=pruned, embedder=embedder)
        out.append(index)
    return out, analyzer


def versions_read(collection_ids: list[int]) -> list[tuple[int, int, int, int | None]]:
    """Each collection's version and pruned revision, and the tuning version, in one query.

    Plain SQL: this runs before every search, and the ORM's query building would cost more
    than the search itself.
    """
    placeholders = ", ".join(["%s"] * len(collection_ids))
    sql = (
        f"SELECT c.id, c.version, c.pruned_revision, "  # noqa: S608 - table names, not input
        f"(SELECT t.version FROM {TuningState._meta.db_table} t WHERE t.id = 1) "
        f"FROM {Collection._meta.db_table} c WHERE c.id IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, collection_ids)
        return list(cursor.fetchall())


def indexes_drop() -> None:
    """Forget every index (tests, benchmarks); the next search rebuilds from the database."""
    global _tuning
    with _indexes_lock:
        _indexes.clear()
    with _tuning_lock:
        _tuning = Tuning(version=-1)


def _refresh(
    index: CollectionIndex, *, version: int, pruned: int, embedder: Embedder | None
) -> None:
    model = embedder.name if embedder else ""
    full = index.version < 0 or pruned > index.version or index.embedding_model != model
    rows = Passage.objects.filter(collection_id=index.collection_id)
    if full:
        index.lexical = LexicalIndex()
        index.dense = DenseIndex() if embedder else None
    else:
        rows = rows.filter(revision__gt=index.version)
        gone = list(
            PassageTombstone.objects.filter(
                collection_id=index.collection_id, revision__gt=index.version
            ).values_list("passage_id", flat=True)
        )
        index.lexical.remove(gone)
        if index.dense is not None:
            index.dense.remove(gone)
    fields = ["pk", "tokens", *(["embedding", "embedding_model"] if embedder else [])]
    docs: list[LexicalDoc] = []
    vectors = []
    for row in rows.order_by("pk").values_list(*fields).iterator(chunk_size=_LOAD_BATCH):
        docs.append(LexicalDoc(row[0], row[1].split()))
        if embedder and row[2] is not None and row[3] == model:
            vectors.append((row[0], vector_from_bytes(row[2])))
    if full:
        index.lexical.build(docs)
    else:
        index.lexical.upsert(docs)
    if index.dense is not None:
        if not full:
            # A passage re-written without a vector must not keep its old one.
            index.dense.remove(doc.passage_id for doc in docs)
        index.dense.upsert(vectors)
    index.version = version
    index.embedding_model = model
