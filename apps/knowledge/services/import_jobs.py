"""Admin uploads: an import run in a background thread, its progress polled by the upload page.

The job row holds the outcome; live progress goes through the cache.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from apps.knowledge.importers import (
    TEXT_FORMATS,
    ImportFailed,
    entries_parse,
    format_detect,
)
from apps.knowledge.importers.encodings import text_encoding
from apps.knowledge.models import Collection, ImportJob
from apps.knowledge.services.content import Progress, collection_create, passages_embed
from apps.knowledge.services.imports import RemovalsUnconfirmed, collection_import

if TYPE_CHECKING:
    from apps.bot.answer_checks import CheckResult

logger = logging.getLogger(__name__)

# The phases a running import reports, as the upload page names them.
_PHASES = {"indexing": gettext_lazy("indexing"), "embedding": gettext_lazy("embedding")}
# A running import writes that it is alive (ImportJob.alive_at) this often; one silent for
# _SILENT_SECONDS lost its worker (a restart, a crash) and is failed when its page next asks.
# In the database, not the cache: a Redis restart must not fail an import that is running.
_BEAT_SECONDS = 15
_SILENT_SECONDS = 60
# A replace import awaiting confirmation keeps its file in the database; after this long
# unconfirmed it is cancelled (the next upload cleans up) and the file dropped.
_REVIEW_LIFETIME = dt.timedelta(days=1)


def _progress_key(job_id: int) -> str:
    return f"knowledge:import:{job_id}"


def import_job_create(
    *,
    collection: Collection | None,
    new_collection: str = "",
    file_name: str,
    fmt: str,
    replace: bool,
    user_id: int | None,
) -> ImportJob:
    """A job importing into ``collection``, or into a new collection named ``new_collection``
    that the import creates (and a failed import does not)."""
    ImportJob.objects.filter(
        state=ImportJob.State.REVIEW, alive_at__lt=timezone.now() - _REVIEW_LIFETIME
    ).update(
        state=ImportJob.State.CANCELLED,
        data=None,
        finished_at=timezone.now(),
        message=gettext("Cancelled: not confirmed within a day. Nothing was changed."),
    )
    return ImportJob.objects.create(
        collection=collection,
        collection_name="" if collection is not None else new_collection,
        file_name=file_name,
        format=fmt,
        replace=replace,
        created_by_id=user_id,
        alive_at=timezone.now(),
    )


def import_job_start(*, job: ImportJob, data: bytes) -> None:
    """Run the import in a thread once the job row is committed; the admin page polls it.

    A replace import keeps the file on the job: if it would remove entries, it stops for the
    admin to confirm (``import_job_confirm``) and then runs again from it.
    """
    if job.replace:
        ImportJob.objects.filter(pk=job.pk).update(data=data)
    _thread_start(job.pk, data)


def import_job_confirm(*, job: ImportJob, user_id: int) -> bool:
    """Run a replace import awaiting confirmation, removing what its plan listed, no more.

    False when the job no longer awaits it (confirmed or cancelled by another request). Should
    the collection have changed so that the import would remove other entries too, the job
    comes back for review with the new plan; nothing is removed that was not confirmed.
    """
    report = {**job.report, "confirmed_by": user_id}
    claimed = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.REVIEW).update(
        state=ImportJob.State.PENDING, report=report, alive_at=timezone.now()
    )
    if not claimed:
        return False
    data = ImportJob.objects.values_list("data", flat=True).get(pk=job.pk)
    _thread_start(job.pk, bytes(data or b""))  # memoryview on PostgreSQL
    return True


def import_job_cancel(*, job: ImportJob) -> bool:
    """Drop a replace import awaiting confirmation; False when it no longer awaits it."""
    return bool(
        ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.REVIEW).update(
            state=ImportJob.State.CANCELLED,
            data=None,
            finished_at=timezone.now(),
            message=gettext("Cancelled: nothing was imported or removed."),
        )
    )


def _thread_start(job_id: int, data: bytes) -> None:
    # The outcome is worded in the admin's language (the thread has none of its own).
    language = translation.get_language()

    def start() -> None:
        threading.Thread(
            target=import_job_run,
            kwargs={"job_id": job_id, "data": data, "language": language},
            daemon=True,
        ).start()

    transaction.on_commit(start)


def import_job_run(*, job_id: int, data: bytes, language: str | None = None) -> None:
    """Parse, import and embed one uploaded file, recording the outcome on the job."""
    with translation.override(language):
        _job_run(job_id, data)


def _job_run(job_id: int, data: bytes) -> None:
    job = ImportJob.objects.select_related("collection").get(pk=job_id)
    if not ImportJob.objects.filter(pk=job_id, finished_at__isnull=True).update(
        state=ImportJob.State.RUNNING, alive_at=timezone.now()
    ):
        connection.close()
        return  # failed as silent before it began: the admin was told to upload it again
    finished = threading.Event()
    threading.Thread(
        target=_beat, args=(job_id, finished), name=f"import-{job_id}-alive", daemon=True
    ).start()

    def progress(phase: str) -> Progress:
        def report(done: int, total: int) -> None:
            cache.set(_progress_key(job_id), {"phase": phase, "done": done, "total": total}, 3600)

        return report

    # Entries a replace import may remove: none until an admin confirmed its plan.
    confirmed_by = job.report.get("confirmed_by")
    confirmed = {r["key"] for r in job.report.get("removals", [])} if confirmed_by else set()
    try:
        entries = entries_parse(data, name=job.file_name, fmt=job.format)
        with transaction.atomic():
            job.collection = job.collection or _collection_new(job.collection_name)
            result = collection_import(
                collection=job.collection,
                entries=entries,
                replace=job.replace,
                source=job.file_name,
                progress=progress("indexing"),
                removals_confirmed=confirmed if job.replace else None,
                removed_by=confirmed_by,
            )
            ImportJob.objects.filter(pk=job_id).update(
                collection=job.collection,
                report={"removed": result.removed, "removals": list(result.removals)}
                | ({"confirmed_by": confirmed_by} if confirmed_by else {}),
            )
        message = gettext(
            "%(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
            "%(removed)s removed; %(passages)s passages indexed."
        ) % {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "removed": result.removed,
            "passages": result.passages,
        }
        message += _encoding_note(job, data)
        # Searchable from here on; vectors for dense search follow.
        ImportJob.objects.filter(pk=job_id, finished_at__isnull=True).update(
            done=len(entries), total=len(entries), message=message
        )
        message += _embed(job.collection.pk, progress("embedding"))
        if checks := collection_answer_checks(job.collection.pk).summary:
            message += " " + checks
        _job_end(job_id, state=ImportJob.State.DONE, message=message)
    except RemovalsUnconfirmed as exc:
        _job_review(job, exc.plan, changed=bool(confirmed_by))
    except ImportFailed as exc:
        _job_end(job_id, state=ImportJob.State.FAILED, message=str(exc))
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        _job_end(
            job_id,
            state=ImportJob.State.FAILED,
            message=gettext("Unexpected error: %(error)s")
            % {"error": f"{exc.__class__.__name__}: {exc}"},
        )
    finally:
        finished.set()
        cache.delete(_progress_key(job_id))
        connection.close()


def _collection_new(name: str) -> Collection:
    # The upload form refused a taken name; this is another upload that took it meanwhile.
    if Collection.objects.filter(name=name).exists():
        raise ImportFailed(
            gettext(
                "A collection named %(name)s was created meanwhile: choose it and upload again."
            )
            % {"name": name}
        )
    return collection_create(name=name)


def _encoding_note(job: ImportJob, data: bytes) -> str:
    """Say so when a text file was read as GB18030: a misread file shows as garbled titles."""
    fmt = format_detect(job.file_name, data) if job.format == "auto" else job.format
    if fmt in TEXT_FORMATS and text_encoding(data) == "gb18030":
        return " " + gettext(
            "The file is not UTF-8: it was read as GB18030 (GBK), the encoding Excel uses on "
            "Chinese Windows. If the entries look garbled, save it as UTF-8 and import it again."
        )
    return ""


def _embed(collection_id: int, progress: Progress) -> str:
    """Add the import's vectors; on failure, the warning to append to the job's outcome.

    The entries are committed and searchable by their words before this runs: an embeddings
    outage must not report as failed an import whose entries are live.
    """
    try:
        passages_embed(collection_id=collection_id, progress=progress)
    except Exception as exc:
        logger.exception("embedding collection %s after an import failed", collection_id)
        return " " + gettext(
            "Warning: computing the vectors for search by meaning failed (%(error)s). The "
            "entries are imported and found by their words; run python manage.py kb_embed "
            "once the embeddings service answers again to add the vectors."
        ) % {"error": f"{exc.__class__.__name__}: {exc}"}
    return ""


@dataclass(frozen=True)
class CollectionChecks:
    """How the answer checks of the sites answering from a collection did after an import."""

    # "N of M answer checks pass; failing: …", or that they could not run; "" when no site
    # answering from the collection has a check.
    summary: str
    failing: list[CheckResult] = field(default_factory=list)
    # They raised: how the bot answers from the imported entries is unknown.
    crashed: bool = False

    @property
    def passed(self) -> bool:
        return not self.failing and not self.crashed


def collection_answer_checks(collection_id: int) -> CollectionChecks:
    """Run the answer checks of the sites answering from the collection, on what was just
    imported (docs/answering.md, *Answer checks*). An upload's job and ``kb_import`` end
    with it; a check that raises is logged and reported, never raised."""
    # Imported here: the bot builds on the knowledge base, not the other way round.
    from apps.bot.answer_checks import answer_checks_summary
    from apps.bot.records import answer_checks_run
    from apps.bot.selectors import answer_check_ids

    check_ids = answer_check_ids(collection_id=collection_id)
    if not check_ids:
        return CollectionChecks(summary="")
    try:
        results = answer_checks_run(check_ids=check_ids)
    except Exception as exc:
        # The entries are imported whatever the checks say.
        logger.exception("answer checks after importing into collection %s", collection_id)
        warning = gettext("Warning: the answer checks could not run (%(error)s).") % {
            "error": f"{exc.__class__.__name__}: {exc}"
        }
        return CollectionChecks(summary=warning, crashed=True)
    return CollectionChecks(
        summary=answer_checks_summary(results), failing=[r for r in results if not r.passed]
    )


def _job_review(job: ImportJob, plan: dict[str, object], *, changed: bool) -> None:
    """Stop a replace import for an admin to confirm what it would remove."""
    message = gettext(
        "Waiting for confirmation: %(removed)s entries that are not in the file would be "
        "removed. Nothing has been changed yet."
    ) % {"removed": plan["removed"]}
    ImportJob.objects.filter(pk=job.pk, finished_at__isnull=True).update(
        state=ImportJob.State.REVIEW,
        report={**plan, "changed": changed},
        message=message,
        alive_at=timezone.now(),
    )


def _job_end(job_id: int, **outcome: object) -> None:
    # Unless the job was failed as silent meanwhile (the database was out of reach for a
    # minute): the admin was told to upload again, and "done" now would contradict that.
    ImportJob.objects.filter(pk=job_id, finished_at__isnull=True).update(
        **outcome, data=None, finished_at=timezone.now()
    )


def _beat(job_id: int, finished: threading.Event) -> None:
    """Say the job is alive until it finishes (a thread of its own: parsing and embedding
    report no progress for minutes at a time)."""
    try:
        while not finished.wait(_BEAT_SECONDS):
            try:
                ImportJob.objects.filter(pk=job_id).update(alive_at=timezone.now())
            except DatabaseError:
                logger.warning("import job %s: could not record that it is alive", job_id)
    finally:
        connection.close()


def import_job_progress(*, job: ImportJob) -> dict[str, object]:
    """What the upload page shows: the job's state and, while it runs, the phase and counts.

    A job nobody runs any more (its worker restarted mid-import) is failed here, so the page
    says so instead of polling for ever.
    """
    silent_since = timezone.now() - dt.timedelta(seconds=_SILENT_SECONDS)
    # A job awaiting confirmation runs nowhere, and is not silent for that.
    waiting = job.state == ImportJob.State.REVIEW
    if job.finished_at is None and not waiting and (job.alive_at or job.created_at) < silent_since:
        _job_end(
            job.pk,
            state=ImportJob.State.FAILED,
            message=gettext(
                "The import stopped: the server running it restarted. Upload the file again."
            ),
        )
        cache.delete(_progress_key(job.pk))
        job.refresh_from_db()
    live = cache.get(_progress_key(job.pk)) or {}
    phase = live.get("phase", "")
    return {
        # The codes drive the page's script; the labels are what it shows, in the admin's words.
        "state": job.state,
        "state_label": job.get_state_display(),
        "phase": phase,
        "phase_label": str(_PHASES.get(phase, phase)),
        "done": live.get("done", job.done),
        "total": live.get("total", job.total),
        "message": job.message,
        "finished": job.finished_at is not None,
    }
