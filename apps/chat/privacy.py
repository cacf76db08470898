"""Data-protection services: retention purge, and export and erasure of one visitor's data."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet

from apps.chat import events
from apps.chat.attachments import attachment_files_discard
from apps.chat.events import attachment_payload
from apps.chat.models import Attachment, Conversation, Message, Visitor
from apps.handoff import events as handoff_events
from apps.handoff.models import Ticket
from apps.sites.models import Site


def visitor_export(*, visitor: Visitor) -> dict[str, Any]:
    """Everything csbot stored about one visitor, as JSON-ready data (a subject-access request)."""
    conversations = (
        Conversation.objects.filter(visitor=visitor)
        .prefetch_related("messages__attachment", "events")
        .order_by("created_at")
    )
    return {
        "visitor": {
            "id": str(visitor.public_id),
            "site": visitor.site.public_key,
            "name": visitor.name,
            "email": visitor.email,
            "external_id": visitor.external_id,
            "language": visitor.language,
            "created_at": visitor.created_at.isoformat(),
            "last_seen_at": visitor.last_seen_at.isoformat() if visitor.last_seen_at else None,
            "page": {"url": visitor.page_url, "title": visitor.page_title},
        },
        "conversations": [
            {
                "id": conversation.pk,
                "status": conversation.status,
                "created_at": conversation.created_at.isoformat(),
                "messages": [
                    {
                        "seq": message.seq,
                        "author": message.author_kind,
                        "text": message.text,
                        "citations": message.citations,
                        "created_at": message.created_at.isoformat(),
                        # Its name, type and size, and a signed link to the file (a day).
                        "attachment": attachment_payload(message),
                    }
                    for message in conversation.messages.all()
                ],
                "events": [
                    {
                        "kind": event.kind,
                        "data": event.data,
                        "created_at": event.created_at.isoformat(),
                    }
                    for event in conversation.events.all()
                ],
            }
            for conversation in conversations
        ],
    }


def visitor_erase(*, visitor: Visitor) -> dict[str, int]:
    """Delete a visitor and everything that hangs off them; return the rows deleted per model.

    A visitor may be chatting at that moment: their sockets close (the widget starts afresh as
    a new visitor) and their open tickets leave the agents' consoles. Their attachments' files
    are removed once the rows are gone. The admin's delete of a visitor does the same
    (``rows_delete``).
    """
    return rows_delete(rows=Visitor.objects.filter(pk=visitor.pk))


def conversations_purge(*, now: dt.datetime) -> int:
    """Delete conversations last touched before each site's retention period; return how many.

    A conversation with a ticket still in the agents' queues is kept, however quiet: a left
    message waiting a week for its answer is not old data.
    """
    purged = 0
    for site in Site.objects.filter(retention_days__isnull=False):
        cutoff = now - dt.timedelta(days=site.retention_days)
        expired = Conversation.objects.filter(site=site, updated_at__lt=cutoff).exclude(
            tickets__status__in=Ticket.ACTIVE
        )
        with transaction.atomic():
            # Listed and locked once: the filter read again at the delete could keep a
            # conversation a message just touched, after its files were listed for removal.
            # A message arriving now waits for the lock and finds its conversation gone.
            ids = list(expired.select_for_update().order_by("pk").values_list("pk", flat=True))
            if not ids:
                continue
            _files_discard_on_commit(Attachment.objects.filter(message__conversation__in=ids))
            _, per_model = Conversation.objects.filter(pk__in=ids).delete()
        purged += per_model.get("chat.Conversation", 0)
    return purged


# How an attachment hangs off each model whose delete cascades to it.
_ATTACHMENT_LOOKUPS: dict[type, str] = {
    Site: "message__conversation__site__in",
    Visitor: "message__conversation__visitor__in",
    Conversation: "message__conversation__in",
    Message: "message__in",
}
# How a conversation hangs off each model whose delete cascades to it (a message's does not).
_CONVERSATION_LOOKUPS: dict[type, str] = {
    Site: "site__in",
    Visitor: "visitor__in",
    Conversation: "pk__in",
}


def rows_delete(*, rows: QuerySet[Any]) -> dict[str, int]:
    """Delete sites, visitors, conversations or messages as erasure does; return the rows
    deleted per model.

    Once the delete commits, the files of the attachments it cascades to are removed, and the
    conversations it cascades to end for whoever is on them: their sockets close and their
    open tickets leave the agents' consoles (``_live_sessions_end_on_commit``). The admin's
    delete calls this: a bare ``delete()`` would leave the files on disk and the chat open.
    """
    with transaction.atomic():
        _files_discard_on_commit(
            Attachment.objects.filter(**{_ATTACHMENT_LOOKUPS[rows.model]: rows})
        )
        if rows.model in _CONVERSATION_LOOKUPS:
            _live_sessions_end_on_commit(
                Conversation.objects.filter(**{_CONVERSATION_LOOKUPS[rows.model]: rows})
            )
        _, per_model = rows.delete()
    return per_model


def _live_sessions_end_on_commit(conversations: QuerySet[Conversation]) -> None:
    """Once the transaction deleting ``conversations`` commits, close the sockets on them
    (``chat.erased``: the visitor's widget, 4401 when the visitor went too) and take their open
    tickets out of their teams' consoles (``handoff.ticket_removed``)."""
    conversation_ids = list(conversations.values_list("pk", flat=True))
    tickets = Ticket.objects.filter(
        conversation__in=conversations, status__in=Ticket.ACTIVE, team__isnull=False
    ).values_list("pk", "team_id")
    for conversation_id in conversation_ids:
        transaction.on_commit(partial(events.conversation_erased, conversation_id))
    for ticket_id, team_id in tickets:
        transaction.on_commit(
            partial(handoff_events.ticket_removed, ticket_id=ticket_id, team_id=team_id)
        )


# An upload is written to storage a moment before its row: younger files may be in flight.
ORPHAN_MIN_AGE = dt.timedelta(hours=1)


def attachment_files_sweep(*, now: dt.datetime, dry_run: bool = False) -> list[str]:
    """Remove the files under ``attachments/`` that no attachment row holds, older than an hour;
    return their paths (only listed with ``dry_run``).

    They are left by a delete that bypassed the services (a shell, an older admin) or by a
    worker that died between writing a file and its row.
    """
    held = set(Attachment.objects.values_list("file", flat=True))
    orphans = [
        path
        for path in _storage_walk("attachments")
        if path not in held and default_storage.get_modified_time(path) < now - ORPHAN_MIN_AGE
    ]
    if not dry_run:
        attachment_files_discard(orphans)
    return orphans


def _storage_walk(folder: str) -> list[str]:
    try:
        folders, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    paths = [f"{folder}/{name}" for name in sorted(names)]
    for name in sorted(folders):
        paths += _storage_walk(f"{folder}/{name}")
    return paths


def _files_discard_on_commit(attachments: QuerySet[Attachment]) -> None:
    """Remove these attachments' files once the transaction deleting their rows commits: a
    rollback keeps both, and no row is left pointing at a missing file."""
    paths = list(attachments.values_list("file", flat=True))
    if paths:
        transaction.on_commit(partial(attachment_files_discard, paths))
