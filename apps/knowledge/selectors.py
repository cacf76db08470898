"""Reads of the knowledge base; ``passages_search`` is the one search entry point."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse

from apps.core.memo import site_settings
from apps.knowledge.models import Article, Collection, FAQEntry, Passage, Status
from apps.knowledge.search import hybrid
from apps.knowledge.search.embedders import embedder_get
from apps.knowledge.search.engine import indexes_fresh, versions_read

CollectionsArg = Iterable[Collection | int]


@dataclass(frozen=True)
class Hit:
    """One ranked passage and why it matched.

    ``confidence`` is the calibrated probability that the passage answers the question (the bot
    answers above its threshold and says "I don't know" or hands off below). For ``kind="faq"``
    ``answer`` is the curated answer, to be given as is; ``url`` links to the source article
    (for FAQs, to the collection's page of the entry's article, or empty).
    """

    passage_id: int
    kind: Literal["faq", "passage"]
    collection_id: int
    article_id: int | None
    faq_id: int | None
    external_id: str
    title: str
    heading_path: tuple[str, ...]
    text: str
    url: str
    language: str
    answer: str | None
    lexical_score: float
    semantic_score: float | None
    fused_score: float
    confidence: float
    matched_terms: tuple[str, ...]
    # The first passage of its section: a long section is cut into several passages with the
    # same ``heading_path``, and only the first follows the heading.
    opens_section: bool


def _collection_ids(collections: CollectionsArg) -> list[int]:
    return sorted({c if isinstance(c, int) else c.pk for c in collections})


def passages_search(*, query: str, collections: CollectionsArg, limit: int = 10) -> list[Hit]:
    """Rank the published passages of ``collections`` for ``query``, best first."""
    ids = _collection_ids(collections)
    if not ids or not query.strip() or limit <= 0:
        return []
    embedder = embedder_get()
    indexes, analyzer = indexes_fresh(collection_ids=ids, embedder=embedder)
    ranked = hybrid.rank(
        query=query[:2000], indexes=indexes, analyzer=analyzer, embedder=embedder, limit=limit
    )
    rows = _hit_rows([r.passage_id for r in ranked])
    hits = []
    for r in ranked:
        row = rows.get(r.passage_id)
        if row is None or (row["faq__status"] or row["article__status"]) != Status.PUBLISHED:
            continue  # deleted or unpublished since the index last caught up
        is_faq = row["faq_id"] is not None
        hits.append(
            Hit(
                passage_id=row["pk"],
                kind="faq" if is_faq else "passage",
                collection_id=row["collection_id"],
                article_id=row["article_id"],
                faq_id=row["faq_id"],
                external_id=row["faq__external_id"] if is_faq else row["article__external_id"],
                title=row["title"],
                heading_path=tuple(row["heading_path"]),
                text=row["text"],
                url=_hit_url(row),
                language=row["language"],
                answer=row["faq__answer"] if is_faq else None,
                lexical_score=r.lexical,
                semantic_score=r.semantic,
                fused_score=r.fused,
                confidence=r.confidence,
                matched_terms=r.matched,
                opens_section=row["previous_heading_path"] != row["heading_path"],
            )
        )
    return hits


def words_unknown(*, query: str, collections: CollectionsArg) -> set[str]:
    """The words of ``query`` (folded) that no published passage of ``collections`` has; a
    typo of one of their words counts as that word."""
    ids = _collection_ids(collections)
    if not ids or not query.strip():
        return set()
    indexes, analyzer = indexes_fresh(collection_ids=ids, embedder=embedder_get())
    return hybrid.unknown_words(query=query[:2000], indexes=indexes, analyzer=analyzer)


_HIT_FIELDS = (
    ("pk", "p.id"),
    ("collection_id", "p.collection_id"),
    ("collection__slug", "c.slug"),
    ("article_id", "p.article_id"),
    ("faq_id", "p.faq_id"),
    ("title", "p.title"),
    ("heading_path", "p.heading_path"),
    ("text", "p.text"),
    ("language", "p.language"),
    ("article__status", "a.status"),
    ("article__external_id", "a.external_id"),
    ("article__source_url", "a.source_url"),
    ("faq__status", "f.status"),
    ("faq__external_id", "f.external_id"),
    ("faq__answer", "f.answer"),
    ("previous_heading_path", "before.heading_path"),
)


def _hit_rows(passage_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The rows behind ranked passages, with their article or FAQ entry, in one query.

    Plain SQL (the same on SQLite and PostgreSQL): on a 10k-passage collection the ORM's query
    building took a third of a search.
    """
    if not passage_ids:
        return {}
    columns = ", ".join(column for _, column in _HIT_FIELDS)
    placeholders = ", ".join(["%s"] * len(passage_ids))
    sql = (
        f"SELECT {columns} FROM {Passage._meta.db_table} p "  # noqa: S608 - names, not input
        f"JOIN {Collection._meta.db_table} c ON c.id = p.collection_id "
        f"LEFT JOIN {Article._meta.db_table} a ON a.id = p.article_id "
        f"LEFT JOIN {FAQEntry._meta.db_table} f ON f.id = p.faq_id "
        # The passage before it in its article, whose headings say whether it opens a section.
        f"LEFT JOIN {Passage._meta.db_table} before ON before.article_id = p.article_id "
        "AND before.position = p.position - 1 "
        f"WHERE p.id IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, passage_ids)
        found = cursor.fetchall()
    rows = {}
    for values in found:
        row = dict(zip((name for name, _ in _HIT_FIELDS), values, strict=True))
        for key in ("heading_path", "previous_heading_path"):
            # SQLite hands JSON back as text, psycopg as Python objects.
            path = row[key]
            row[key] = json.loads(path) if isinstance(path, str) else path
        rows[row["pk"]] = row
    return rows


def _hit_url(row: dict[str, Any]) -> str:
    if row["faq_id"] is not None:
        return _kb_url("knowledge:faq", row["collection__slug"], row["faq_id"])
    return row["article__source_url"] or _kb_url(
        "knowledge:article", row["collection__slug"], row["article_id"]
    )


@lru_cache(maxsize=4096)
def _kb_url(name: str, collection_slug: str, pk: int) -> str:
    key = "faq_id" if name == "knowledge:faq" else "article_id"
    return reverse(name, kwargs={"collection": collection_slug, key: pk})


def article_url(article: Article) -> str:
    """Where a citation of the article sends the visitor: its own page, or csbot's."""
    return article.source_url or _kb_url("knowledge:article", article.collection.slug, article.pk)


def kb_version(*, collections: CollectionsArg) -> str:
    """A string that changes whenever the searchable content or tuning of ``collections`` does."""
    ids = _collection_ids(collections)
    rows = versions_read(ids) if ids else []
    versions = {pk: version for pk, version, _, _ in rows}
    tuning = next((row[3] for row in rows), None) or 0
    embedder = embedder_get()
    parts = [f"{pk}.{versions.get(pk, 0)}" for pk in ids]
    return f"t{tuning}:{embedder.name if embedder else 'lexical'}:" + ",".join(parts)


def collections_for_site(*, site_id: int) -> QuerySet[Collection]:
    return Collection.objects.filter(sites=site_id)


def collection_ids_for_site(*, site_id: int) -> tuple[int, ...]:
    """The ids of the collections the site answers from, in order; kept a second, like the
    site's other settings (``apps/core/memo.py``)."""

    def load() -> tuple[int, ...]:
        linked = collections_for_site(site_id=site_id).order_by("pk")
        return tuple(linked.values_list("pk", flat=True))

    return site_settings.get(("collections", site_id), load)


def article_get_published(*, collection_slug: str, article_id: int) -> Article | None:
    return (
        Article.objects.filter(
            pk=article_id, collection__slug=collection_slug, status=Status.PUBLISHED
        )
        .select_related("collection")
        .first()
    )


def faq_get_published(*, collection_slug: str, faq_id: int) -> FAQEntry | None:
    return (
        FAQEntry.objects.filter(
            pk=faq_id, collection__slug=collection_slug, status=Status.PUBLISHED
        )
        .select_related("collection")
        .first()
    )
