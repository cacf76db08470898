"""Writes to the knowledge base. Admin, importers and commands only call these.

Every content change runs in one transaction that (1) bumps the collection's ``version``, which
locks the collection row and so orders concurrent writers, (2) replaces the passages of what
changed, stamped with that version as their ``revision``, and (3) tombstones the passages it
deleted. Search indexes in every process catch up from exactly that (``search.engine``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils.text import slugify

from apps.knowledge.chunking import markdown_chunks
from apps.knowledge.models import (
    Article,
    Collection,
    FAQEntry,
    Passage,
    PassageTombstone,
    Status,
    TuningState,
)
from apps.knowledge.search.analyzer import ANALYZER_VERSION, Analyzer
from apps.knowledge.search.embedders import EMBED_MAX_CHARS, embedder_get, vector_to_bytes
from apps.knowledge.search.engine import analyzer_current

logger = logging.getLogger(__name__)

# Title words count this many times: measured on faq-dev, a match in the title or the FAQ
# question says far more about relevance than one in the body.
TITLE_WEIGHT = 3
EMBED_BATCH = 32
_BATCH = 500

Progress = Callable[[int, int], None]


# --- Collections ----------------------------------------------------------------------------
def collection_create(*, name: str, description: str = "", slug: str = "") -> Collection:
    # Room for the "-n" that tells apart collections whose names begin alike.
    room = Collection._meta.get_field("slug").max_length - 8
    base = (slug or slugify(name, allow_unicode=True) or "kb")[:room].rstrip("-")
    candidate, n = base, 1
    while Collection.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return Collection.objects.create(name=name, slug=candidate, description=description)


def collection_get_or_create(*, name: str) -> Collection:
    existing = Collection.objects.filter(name=name).first()
    return existing or collection_create(name=name)


def _version_next(collection_id: int) -> int:
    """Allocate the next version of a collection; the caller holds an open transaction."""
    Collection.objects.filter(pk=collection_id).update(version=F("version") + 1)
    return Collection.objects.values_list("version", flat=True).get(pk=collection_id)


# --- Passages -------------------------------------------------------------------------------
def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def entry_hash(entry: Article | FAQEntry) -> str:
    """A fingerprint of everything that decides an entry's passages."""
    if isinstance(entry, Article):
        parts = (entry.title, entry.body, entry.source_url)
    else:
        parts = (entry.question, entry.alternatives, entry.answer)
    return content_hash(*parts, entry.language, entry.status, entry.tags)


def passage_head(passage: Passage) -> str:
    """The part of a passage weighed like a title: the FAQ question and phrasings, or the title."""
    if passage.faq is not None:
        return "\n".join([passage.faq.question, *passage.faq.alternative_list])
    return passage.title


def passage_terms(passage: Passage, analyzer: Analyzer) -> list[str]:
    """The index terms of a passage; what ``Passage.tokens`` stores."""
    return (
        analyzer.terms(passage_head(passage)) * TITLE_WEIGHT
        + analyzer.terms(" ".join(passage.heading_path))
        + analyzer.terms(passage.text)
    )


def passage_embedding_text(passage: Passage) -> str:
    """What the embedder sees of a passage: its title (or questions), headings and text."""
    head = " › ".join([passage_head(passage), *passage.heading_path])
    return f"{head}\n{passage.text}".strip()[:EMBED_MAX_CHARS]


def _new_passages(entry: Article | FAQEntry, analyzer: Analyzer, revision: int) -> list[Passage]:
    if isinstance(entry, FAQEntry):
        pieces: list[tuple[tuple[str, ...], str]] = [((), entry.answer)]
        source: dict[str, object] = {"faq": entry, "title": entry.question}
    else:
        # A title-only article (a bare question) is still findable by its title.
        pieces = [(c.heading_path, c.text) for c in markdown_chunks(entry.body)] or [((), "")]
        source = {"article": entry, "title": entry.title}
    passages = [
        Passage(
            collection_id=entry.collection_id,
            position=position,
            heading_path=list(path),
            text=text,
            language=entry.language,
            revision=revision,
            **source,
        )
        for position, (path, text) in enumerate(pieces)
    ]
    for passage in passages:
        passage.tokens = " ".join(passage_terms(passage, analyzer))
    return passages


def _passages_replace(
    *,
    collection_id: int,
    revision: int,
    entries: Sequence[Article | FAQEntry],
    analyzer: Analyzer,
) -> list[Passage]:
    """Delete the passages of these articles/FAQs and create them anew if published."""
    article_ids = [e.pk for e in entries if isinstance(e, Article)]
    faq_ids = [e.pk for e in entries if isinstance(e, FAQEntry)]
    old = Passage.objects.filter(Q(article__in=article_ids) | Q(faq__in=faq_ids))
    _passages_delete(collection_id=collection_id, revision=revision, passages=old)
    new: list[Passage] = []
    for entry in entries:
        if entry.status == Status.PUBLISHED:
            new.extend(_new_passages(entry, analyzer, revision))
    return Passage.objects.bulk_create(new, batch_size=500)


def _passages_delete(*, collection_id: int, revision: int, passages: QuerySet[Passage]) -> None:
    ids = list(passages.values_list("pk", flat=True))
    if not ids:
        return
    PassageTombstone.objects.bulk_create(
        [
            PassageTombstone(collection_id=collection_id, passage_id=pk, revision=revision)
            for pk in ids
        ],
        batch_size=1000,
    )
    Passage.objects.filter(pk__in=ids).delete()


def _after_commit_embed(collection_id: int) -> None:
    if embedder_get() is not None:
        transaction.on_commit(lambda: _embed_quietly(collection_id))


def _embed_quietly(collection_id: int) -> None:
    """Embed after an edit; a failure leaves the vectors for the next run, never fails the edit."""
    try:
        passages_embed(collection_id=collection_id)
    except Exception:
        logger.warning(
            "embedding collection %s failed; kb_embed or the next edit adds the vectors",
            collection_id,
            exc_info=True,
        )


def passages_embed(*, collection_id: int, progress: Progress | None = None) -> int:
    """Compute the missing vectors of a collection's passages; return how many were added.

    Runs outside any transaction: embedding is slow and the lexical index must not wait for it.
    Each batch is committed with a new version, so dense results improve while it runs.
    """
    embedder = embedder_get()
    if embedder is None:
        return 0
    pending = Passage.objects.filter(collection_id=collection_id).filter(
        Q(embedding__isnull=True) | ~Q(embedding_model=embedder.name)
    )
    total = pending.count()
    done = 0
    while True:
        batch = list(pending.select_related("faq").order_by("pk")[:EMBED_BATCH])
        if not batch:
            break
        vectors = embedder.embed_passages([passage_embedding_text(p) for p in batch])
        with transaction.atomic():
            revision = _version_next(collection_id)
            # Rows deleted meanwhile simply update nothing.
            for passage, vector in zip(batch, vectors, strict=True):
                Passage.objects.filter(pk=passage.pk).update(
                    embedding=vector_to_bytes(vector),
                    embedding_model=embedder.name,
                    revision=revision,
                )
        done += len(batch)
        if progress:
            progress(min(done, total), total)
    return done


# --- Articles -------------------------------------------------------------------------------
def entry_save(*, entry: Article | FAQEntry) -> Article | FAQEntry:
    """Create or update an article or FAQ entry and re-index it.

    Saving content whose searchable parts did not change leaves the passages and the version
    alone, so answer caches keyed on ``kb_version`` stay valid.
    """
    new_hash = entry_hash(entry)
    with transaction.atomic():
        moved_from = _collection_left(entry)
        changed = entry.pk is None or moved_from is not None or new_hash != entry.content_hash
        entry.content_hash = new_hash
        entry.save()
        if moved_from is not None:
            # Moved to another collection (an internal one, say): its passages leave the old
            # collection's index and the sites answering from it, whatever else changed.
            _passages_delete(
                collection_id=moved_from,
                revision=_version_next(moved_from),
                passages=Passage.objects.filter(
                    **{"article" if isinstance(entry, Article) else "faq": entry}
                ),
            )
        if changed:
            revision = _version_next(entry.collection_id)
            _passages_replace(
                collection_id=entry.collection_id,
                revision=revision,
                entries=[entry],
                analyzer=analyzer_current(),
            )
            _after_commit_embed(entry.collection_id)
    return entry


def _collection_left(entry: Article | FAQEntry) -> int | None:
    """The collection a saved entry is being moved out of, or None."""
    if entry.pk is None:
        return None
    stored = type(entry).objects.filter(pk=entry.pk).values_list("collection_id", flat=True).first()
    return stored if stored is not None and stored != entry.collection_id else None


def article_save(*, article: Article) -> Article:
    """Create or update an article and re-index it (``entry_save``, typed for articles)."""
    entry_save(entry=article)
    return article


def faq_save(*, faq: FAQEntry) -> FAQEntry:
    """Create or update an FAQ entry and re-index it (``entry_save``, typed for FAQ entries)."""
    entry_save(entry=faq)
    return faq


def article_create(
    *,
    collection: Collection,
    title: str,
    body: str,
    language: str,
    status: str = Status.DRAFT,
    external_id: str = "",
    source: str = "",
    source_url: str = "",
    tags: str = "",
) -> Article:
    article = Article(
        collection=collection,
        title=title,
        body=body,
        language=language,
        status=status,
        external_id=external_id,
        source=source,
        source_url=source_url,
        tags=tags,
    )
    entry_save(entry=article)
    return article


def faq_create(
    *,
    collection: Collection,
    question: str,
    answer: str,
    language: str,
    alternatives: str = "",
    status: str = Status.DRAFT,
    external_id: str = "",
    source: str = "",
    tags: str = "",
) -> FAQEntry:
    faq = FAQEntry(
        collection=collection,
        question=question,
        answer=answer,
        language=language,
        alternatives=alternatives,
        status=status,
        external_id=external_id,
        source=source,
        tags=tags,
    )
    entry_save(entry=faq)
    return faq


def entries_set_status(*, entries: QuerySet[Article] | QuerySet[FAQEntry], status: str) -> int:
    """Publish, archive or draft many articles or FAQ entries at once; return how many changed."""
    if status not in Status.values:
        raise ValueError(f"unknown status {status!r}")
    changed = 0
    analyzer = analyzer_current()
    with transaction.atomic():
        by_collection: dict[int, list[Article | FAQEntry]] = {}
        for entry in entries.exclude(status=status).select_for_update():
            entry.status = status
            entry.content_hash = entry_hash(entry)
            entry.save(update_fields=["status", "content_hash", "updated_at"])
            by_collection.setdefault(entry.collection_id, []).append(entry)
            changed += 1
        for collection_id, items in by_collection.items():
            revision = _version_next(collection_id)
            _passages_replace(
                collection_id=collection_id,
                revision=revision,
                entries=items,
                analyzer=analyzer,
            )
            _after_commit_embed(collection_id)
    return changed


def entries_delete(*, entries: Iterable[Article | FAQEntry]) -> int:
    """Delete articles or FAQ entries and take their passages out of search."""
    count = 0
    with transaction.atomic():
        for entry in entries:
            revision = _version_next(entry.collection_id)
            passages = (
                Passage.objects.filter(article=entry)
                if isinstance(entry, Article)
                else Passage.objects.filter(faq=entry)
            )
            _passages_delete(
                collection_id=entry.collection_id, revision=revision, passages=passages
            )
            entry.delete()
            count += 1
    return count


def passages_reanalyze(
    *, passages: QuerySet[Passage], keep: Callable[[Passage], bool] | None = None
) -> int:
    """Recompute the terms of ``passages`` (those ``keep`` accepts) in place; vectors stay.

    The caller holds a transaction. Each collection touched gets one new version.
    """
    analyzer = analyzer_current()
    revisions: dict[int, int] = {}
    batch: list[Passage] = []
    count = 0
    for passage in passages.select_related("faq").order_by("pk").iterator(chunk_size=_BATCH):
        if keep is not None and not keep(passage):
            continue
        if passage.collection_id not in revisions:
            revisions[passage.collection_id] = _version_next(passage.collection_id)
        passage.tokens = " ".join(passage_terms(passage, analyzer))
        passage.revision = revisions[passage.collection_id]
        batch.append(passage)
        count += 1
        if len(batch) >= _BATCH:
            Passage.objects.bulk_update(batch, ["tokens", "revision"])
            batch.clear()
    Passage.objects.bulk_update(batch, ["tokens", "revision"])
    return count


def passages_reanalyze_if_outdated() -> int | None:
    """Re-analyze every passage when they were analysed by an older analyzer than this one
    (``ANALYZER_VERSION``); the number re-analysed, or None when they were up to date."""
    with transaction.atomic():
        state, _ = TuningState.objects.select_for_update().get_or_create(pk=1)
        if state.analyzer_version >= ANALYZER_VERSION:
            return None
        count = passages_reanalyze(passages=Passage.objects.all())
        analyzer_version_record()
        return count


def analyzer_version_record() -> None:
    """Record that every stored passage's terms are this analyzer's (``kb_reindex`` of all)."""
    TuningState.objects.update_or_create(pk=1, defaults={"analyzer_version": ANALYZER_VERSION})


def collection_reindex(*, collection: Collection) -> int:
    """Re-analyze every passage of a collection, e.g. after an upgrade changed the analyzer."""
    with transaction.atomic():
        return passages_reanalyze(passages=Passage.objects.filter(collection=collection))
