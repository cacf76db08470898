"""Import parsed entries into a collection: atomic, idempotent, with progress.

Entries are matched to existing articles and FAQ entries by external id; one whose content hash
is unchanged is left alone, so importing the same file twice writes nothing. The whole import is
one transaction: a failure (a duplicate id, a database error) leaves the collection as it was.
Admin uploads run it in the background: ``import_jobs``.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from django.contrib.admin.models import DELETION, LogEntry
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from apps.knowledge.importers import (
    ImportedEntry,
    ImportFailed,
)
from apps.knowledge.importers.tabular import CSV_ID_PREFIX
from apps.knowledge.models import Article, Collection, FAQEntry, Passage
from apps.knowledge.search.engine import analyzer_current
from apps.knowledge.services.content import (
    Progress,
    _passages_delete,
    _passages_replace,
    _version_next,
    entry_hash,
)

_PROGRESS_EVERY = 200
# How many of the entries a replace import would remove its review (admin's, kb_import's) lists
# by title.
REVIEW_TITLES = 20
# Which column each imported field lands in, by kind (see _entry_apply).
_COLUMNS = {
    "article": {
        "external_id": "external_id",
        "title": "title",
        "body": "body",
        "source_url": "source_url",
        "tags": "tags",
    },
    "faq": {
        "external_id": "external_id",
        "title": "question",
        "body": "answer",
        "alternatives": "alternatives",
        "tags": "tags",
    },
}


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    passages: int = 0
    # What "replace" removed, as removal_describe words it.
    removals: tuple[dict[str, str], ...] = ()


class RemovalsUnconfirmed(Exception):
    """A replace import would remove entries nobody confirmed; nothing was written.

    ``plan`` is what the import would do, for the admin to review: the counts and every entry
    it would remove (``removal_describe``).
    """

    def __init__(self, plan: dict[str, object]) -> None:
        self.plan = plan
        super().__init__(f"{plan['removed']} entries to remove need confirming")


def removal_describe(item: Article | FAQEntry) -> dict[str, str]:
    """An entry as a replace import's review and report name it; ``key`` is its identity."""
    kind = "article" if isinstance(item, Article) else "faq"
    return {"key": f"{kind}:{item.pk}", "kind": kind, "id": item.external_id, "title": str(item)}


def collection_import(
    *,
    collection: Collection,
    entries: Sequence[ImportedEntry],
    replace: bool = False,
    source: str = "",
    progress: Progress | None = None,
    removals_confirmed: Set[str] | None = None,
    removed_by: int | None = None,
) -> ImportResult:
    """Create or update the entries in ``collection``; with ``replace``, delete the rest.

    With ``removals_confirmed`` (keys of ``removal_describe``), a replace that would remove
    any other entry writes nothing and raises ``RemovalsUnconfirmed`` with its plan. With
    ``removed_by`` (a user id), each removal is recorded in the admin's history (LogEntry).
    """
    _check_entries(entries)
    total = len(entries)
    with transaction.atomic():
        # Concurrent imports into one collection run one after the other (a no-op on SQLite,
        # whose writers are serialised anyway).
        Collection.objects.select_for_update().filter(pk=collection.pk).first()
        articles = {a.external_id: a for a in collection.articles.exclude(external_id="")}
        faqs = {f.external_id: f for f in collection.faqs.exclude(external_id="")}
        created: list[Article | FAQEntry] = []
        updated: list[Article | FAQEntry] = []
        gone: list[Article | FAQEntry] = []
        unchanged = 0
        for done, entry in enumerate(entries, start=1):
            # An id that switched kind (article ↔ FAQ) loses its old self.
            stale = (faqs if entry.kind == "article" else articles).pop(entry.external_id, None)
            if stale is not None:
                gone.append(stale)
            existing = (articles if entry.kind == "article" else faqs).get(entry.external_id)
            before = existing.content_hash if existing is not None else None
            item = _entry_apply(collection, entry, existing, source)
            if existing is None:
                created.append(item)
            elif item.content_hash != before:
                updated.append(item)
            else:
                unchanged += 1
            if progress and done % _PROGRESS_EVERY == 0:
                progress(done, total)
        removed = 0
        removals: tuple[dict[str, str], ...] = ()
        if replace:
            keep = {e.external_id for e in entries}
            dropped: list[Article | FAQEntry] = [a for k, a in articles.items() if k not in keep]
            dropped += [f for key, f in faqs.items() if key not in keep]
            dropped += list(collection.articles.filter(external_id=""))
            dropped += list(collection.faqs.filter(external_id=""))
            removed = len(dropped)
            removals = tuple(removal_describe(item) for item in dropped)
            keys = {r["key"] for r in removals}
            if removals_confirmed is not None and not keys.issubset(removals_confirmed):
                raise RemovalsUnconfirmed(
                    {
                        "created": len(created),
                        "updated": len(updated),
                        "unchanged": unchanged,
                        "removed": removed,
                        "removals": list(removals),
                    }
                )
            if removed_by is not None and dropped:
                LogEntry.objects.log_actions(
                    user_id=removed_by,
                    queryset=dropped,
                    action_flag=DELETION,
                    change_message=gettext("Removed by a replace import of %(file)s.")
                    % {"file": source},
                )
            gone += dropped
        passages: list[Passage] = []
        # Nothing changed: the version stays, and so do the caches keyed on it.
        if created or updated or gone:
            revision = _version_next(collection.pk)
            _entries_remove(collection, revision, gone)
            Article.objects.bulk_create(
                [i for i in created if isinstance(i, Article)], batch_size=500
            )
            FAQEntry.objects.bulk_create(
                [i for i in created if isinstance(i, FAQEntry)], batch_size=500
            )
            _bulk_update(updated)
            changed = created + updated
            passages = _passages_replace(
                collection_id=collection.pk,
                revision=revision,
                entries=changed,
                analyzer=analyzer_current(),
            )
    if progress:
        progress(total, total)
    return ImportResult(
        created=len(created),
        updated=len(updated),
        unchanged=unchanged,
        removed=removed,
        passages=len(passages),
        removals=removals,
    )


def _check_entries(entries: Sequence[ImportedEntry]) -> None:
    """Refuse, naming the line, what the database would reject mid-import.

    PostgreSQL text cannot hold NUL and its varchar columns refuse longer values; SQLite would
    store both, so the check runs here for every database alike.
    """
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.external_id in seen:
            # A CSV row's id is derived from its question: the question is what to look for.
            if entry.external_id.startswith(CSV_ID_PREFIX):
                message = gettext("the question %(what)r is used twice (first at %(first)s)")
                what = entry.title
            else:
                message = gettext("id %(what)r is used twice (first at %(first)s)")
                what = entry.external_id
            raise ImportFailed(
                message % {"what": what, "first": seen[entry.external_id]},
                location=entry.location,
            )
        seen[entry.external_id] = entry.location
        model = Article if entry.kind == "article" else FAQEntry
        for name, column in _COLUMNS[entry.kind].items():
            value = getattr(entry, name)
            text = "\n".join(value) if isinstance(value, tuple) else value
            field = model._meta.get_field(column)
            # Named as the admin's edit form names it: "question", not the file's "title".
            words = {"field": field.verbose_name, "limit": field.max_length}
            if "\x00" in text:
                raise ImportFailed(
                    gettext("%(field)s contains a NUL character") % words,
                    location=entry.location,
                )
            if field.max_length and len(text) > field.max_length:
                raise ImportFailed(
                    gettext("%(field)s is longer than %(limit)s characters") % words,
                    location=entry.location,
                )


def _entry_apply(
    collection: Collection, entry: ImportedEntry, existing: Article | FAQEntry | None, source: str
) -> Article | FAQEntry:
    if entry.kind == "article":
        article = existing if isinstance(existing, Article) else Article(collection=collection)
        article.title = entry.title
        article.body = entry.body
        article.source_url = entry.source_url
        item: Article | FAQEntry = article
    else:
        faq = existing if isinstance(existing, FAQEntry) else FAQEntry(collection=collection)
        faq.question = entry.title
        faq.answer = entry.body
        faq.alternatives = "\n".join(entry.alternatives)
        item = faq
    item.external_id = entry.external_id
    item.language = entry.language
    item.status = entry.status
    item.tags = entry.tags
    item.source = source or item.source
    item.content_hash = entry_hash(item)
    return item


def _bulk_update(items: list[Article | FAQEntry]) -> None:
    common = ["language", "status", "tags", "source", "content_hash", "updated_at"]
    articles = [i for i in items if isinstance(i, Article)]
    faqs = [i for i in items if isinstance(i, FAQEntry)]
    now = timezone.now()
    for item in items:
        item.updated_at = now
    Article.objects.bulk_update(articles, ["title", "body", "source_url", *common], batch_size=500)
    FAQEntry.objects.bulk_update(
        faqs, ["question", "answer", "alternatives", *common], batch_size=500
    )


def _entries_remove(collection: Collection, revision: int, items: list[Article | FAQEntry]) -> int:
    article_ids = [i.pk for i in items if isinstance(i, Article)]
    faq_ids = [i.pk for i in items if isinstance(i, FAQEntry)]
    _passages_delete(
        collection_id=collection.pk,
        revision=revision,
        passages=Passage.objects.filter(article__in=article_ids),
    )
    _passages_delete(
        collection_id=collection.pk,
        revision=revision,
        passages=Passage.objects.filter(faq__in=faq_ids),
    )
    Article.objects.filter(pk__in=article_ids).delete()
    FAQEntry.objects.filter(pk__in=faq_ids).delete()
    return len(article_ids) + len(faq_ids)
