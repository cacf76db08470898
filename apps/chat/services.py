"""Writes for visitors, conversations and messages. Consumers and views only call these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.chat import events
from apps.chat.models import Conversation, ConversationEvent, Message, Visitor
from apps.sites.models import Site


def visitor_create(*, site: Site, language: str = "") -> Visitor:
    return Visitor.objects.create(site=site, language=language[:16])


def visitor_identify(*, visitor: Visitor, name: str, email: str, external_id: str) -> Visitor:
    """Store what the host page told us about its signed-in user (``csbot.identify``)."""
    visitor.name = name
    visitor.email = email
    visitor.external_id = external_id
    visitor.save(update_fields=["name", "email", "external_id"])
    return visitor


def visitor_touch(*, visitor: Visitor) -> None:
    Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=timezone.now())


def conversation_open(*, visitor: Visitor) -> Conversation:
    """Return the visitor's conversation that is not closed, starting one if there is none."""
    conversation = (
        Conversation.objects.filter(visitor=visitor)
        .exclude(status=Conversation.Status.CLOSED)
        .order_by("-created_at")
        .first()
    )
    if conversation is not None:
        return conversation
    return Conversation.objects.create(
        site_id=visitor.site_id, visitor=visitor, language=visitor.language
    )


def conversation_event_record(
    *, conversation: Conversation, kind: str, actor_id: int | None = None, data: dict | None = None
) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=conversation, kind=kind, actor_id=actor_id, data=data or {}
    )


def _seq_next(conversation_id: int) -> int:
    """Allocate the next seq of a conversation; the caller holds an open transaction.

    The row lock (a no-op on SQLite, whose writers are serialised anyway) makes concurrent
    allocations on several workers wait for each other instead of colliding.
    """
    conversation = Conversation.objects.select_for_update().only("last_seq").get(pk=conversation_id)
    conversation.last_seq += 1
    Conversation.objects.filter(pk=conversation_id).update(
        last_seq=conversation.last_seq, updated_at=timezone.now()
    )
    return conversation.last_seq


@dataclass(frozen=True)
class VisitorMessageResult:
    message: Message
    created: bool


def message_create_from_visitor(
    *, conversation: Conversation, client_id: str, text: str
) -> VisitorMessageResult:
    """Store a visitor's message once per ``client_id``; a resend returns the stored one.

    The message is committed before this returns, so the caller may acknowledge it.
    """
    existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
    if existing is not None:
        return VisitorMessageResult(existing, created=False)
    try:
        with transaction.atomic():
            # Re-checked under the seq lock: two sockets of one visitor may resend at once.
            seq = _seq_next(conversation.pk)
            if Message.objects.filter(conversation=conversation, client_id=client_id).exists():
                raise IntegrityError("duplicate client id")
            message = Message.objects.create(
                conversation=conversation,
                seq=seq,
                author_kind=Message.AuthorKind.VISITOR,
                client_id=client_id,
                text=text,
            )
            transaction.on_commit(lambda: events.message_created(message))
    except IntegrityError:
        return VisitorMessageResult(
            Message.objects.get(conversation=conversation, client_id=client_id), created=False
        )
    return VisitorMessageResult(message, created=True)


def message_create(
    *,
    conversation_id: int,
    author_kind: str,
    text: str,
    author_id: int | None = None,
    state: str = Message.State.COMPLETE,
    citations: Sequence[events.Citation] = (),
) -> Message:
    """Store a bot, agent or system message and publish it after commit."""
    with transaction.atomic():
        message = Message.objects.create(
            conversation_id=conversation_id,
            seq=_seq_next(conversation_id),
            author_kind=author_kind,
            author_id=author_id,
            text=text,
            state=state,
            citations=list(citations),
        )
        transaction.on_commit(lambda: events.message_created(message))
    return message


def message_finish(
    *, message: Message, text: str, state: str, citations: Sequence[events.Citation] = ()
) -> Message:
    """Store the final text of a streamed message and publish ``chat.done`` after commit."""
    message.text = text
    message.state = state
    message.citations = list(citations)
    with transaction.atomic():
        message.save(update_fields=["text", "state", "citations", "updated_at"])
        transaction.on_commit(lambda: events.message_finished(message))
    return message


def messages_interrupt_stale(*, older_than_seconds: int) -> int:
    """Mark answers left streaming by a worker that died as interrupted; return how many."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    stale = list(
        Message.objects.filter(state=Message.State.STREAMING, updated_at__lt=cutoff).select_related(
            "author"
        )
    )
    for message in stale:
        message_finish(
            message=message,
            text=message.text,
            state=Message.State.INTERRUPTED,
            citations=message.citations,
        )
    return len(stale)
