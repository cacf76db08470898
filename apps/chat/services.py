"""Writes for visitors, conversations and messages. Consumers and views only call these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.chat import events
from apps.chat.attachments import StoredFile, name_masked
from apps.chat.models import Attachment, Conversation, ConversationEvent, Message, Visitor
from apps.chat.selectors import visitor_get
from apps.core.lib.pii import pii_mask
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


def visitor_touch(*, visitor: Visitor, page_url: str = "", page_title: str = "") -> None:
    """The visitor is seen now; on ``page_url`` (titled ``page_title``) when one is given."""
    seen: dict[str, object] = {"last_seen_at": timezone.now()}
    if page_url:
        if visitor.site.mask_pii:  # an address or title may carry an email or phone number
            # Cut again: a mask may be longer than a short email it replaced.
            page_url = pii_mask(page_url)[: Visitor._meta.get_field("page_url").max_length]
            page_title = pii_mask(page_title)[: Visitor._meta.get_field("page_title").max_length]
        seen.update(page_url=page_url, page_title=page_title)
        visitor.page_url, visitor.page_title = page_url, page_title
    Visitor.objects.filter(pk=visitor.pk).update(**seen)


def conversation_open(
    *, visitor: Visitor, page_url: str = "", page_title: str = ""
) -> Conversation:
    """Return the visitor's latest conversation, starting one if there is none; the visitor
    is seen now.

    A closed conversation is returned as it is, so a returning visitor still reads how it
    ended (an agent's reply to a message they left); their next message starts a new one.
    Tabs saying hello at once find or start one conversation between them: seeing the visitor
    is the first statement, and holds their row (``conversation_next`` says why a write).
    """
    with transaction.atomic():
        visitor_touch(visitor=visitor, page_url=page_url, page_title=page_title)
        conversation = Conversation.objects.filter(visitor=visitor).order_by("-pk").first()
        if conversation is not None:
            return conversation
        return conversation_start(visitor=visitor)


def visitor_hello(
    *, public_id: str, site_id: int, page_url: str = "", page_title: str = ""
) -> tuple[Visitor, Conversation] | None:
    """The visitor a socket's token names, seen now, with their latest conversation.

    ``None`` when the site has no such visitor. One call for what ``hello`` needs: each
    separate call from the socket waits its turn for a database thread.
    """
    visitor = visitor_get(public_id=public_id, site_id=site_id)
    if visitor is None:
        return None
    return visitor, conversation_open(visitor=visitor, page_url=page_url, page_title=page_title)


def conversation_start(*, visitor: Visitor) -> Conversation:
    return Conversation.objects.create(
        site_id=visitor.site_id, visitor=visitor, language=visitor.language
    )


def conversation_read(*, conversation_id: int, seq: int) -> None:
    """Record that the visitor's widget showed the messages up to ``seq`` on screen: never
    backwards, never past the last message. The agents following it hear of it."""
    if Conversation.objects.filter(
        pk=conversation_id, visitor_read_seq__lt=seq, last_seq__gte=seq
    ).update(visitor_read_seq=seq):
        transaction.on_commit(
            partial(events.visitor_read, conversation_id=conversation_id, seq=seq)
        )


def conversation_next(*, visitor: Visitor, closed_id: int) -> Conversation:
    """Where the visitor goes on after their conversation ``closed_id`` was closed: the open
    conversation another of their sockets (a second tab) began since, else a new one, which
    their other sockets on ``closed_id`` are sent to.

    Two tabs writing at once begin one conversation between them: the first statement
    writes (the visitor was seen now), which takes the visitor's row on PostgreSQL and the
    database's write lock on SQLite until the transaction ends. A ``SELECT … FOR UPDATE``
    would lock nothing on SQLite, and two readers upgrading to writers there fail at once.
    """
    with transaction.atomic():
        visitor_touch(visitor=visitor)
        begun = (
            Conversation.objects.filter(visitor=visitor, pk__gt=closed_id, status__in=OPEN_STATUSES)
            .order_by("-pk")
            .first()
        )
        if begun is not None:
            return begun
        conversation = conversation_start(visitor=visitor)
        transaction.on_commit(
            partial(events.conversation_continued, closed_id=closed_id, next_id=conversation.pk)
        )
        return conversation


def conversation_language_set(*, conversation_id: int, language: str, replace: bool) -> bool:
    """Record the language the conversation is held in; say whether it changed.

    Without ``replace`` only a conversation with no language yet takes it, so a later "ok" or
    an order number cannot undo what the visitor's first real question showed.
    """
    rows = Conversation.objects.filter(pk=conversation_id)
    rows = rows.exclude(language=language) if replace else rows.filter(language="")
    return rows.update(language=language) == 1


class ConversationStatusChanged(Exception):
    """The conversation is no longer in a status that allows this (an agent took it over)."""


OPEN_STATUSES = (
    Conversation.Status.BOT,
    Conversation.Status.WAITING,
    Conversation.Status.AGENT,
)


def conversation_status_move(
    *, conversation_id: int, from_statuses: Sequence[str], to_status: str
) -> bool:
    """Move a conversation to ``to_status`` if it is in one of ``from_statuses``; say if it did.

    A conditional UPDATE: of two concurrent moves from the same status exactly one succeeds,
    and a bot reply checking its ownership waits for the row and then sees the new status.
    """
    changes: dict[str, object] = {"status": to_status, "updated_at": timezone.now()}
    if to_status == Conversation.Status.CLOSED:
        changes["closed_at"] = changes["updated_at"]
    with transaction.atomic():
        moved = Conversation.objects.filter(pk=conversation_id, status__in=from_statuses).update(
            **changes
        )
        if moved and to_status != Conversation.Status.BOT:
            _bot_answers_interrupt(conversation_id)
    return moved == 1


def _bot_answers_interrupt(conversation_id: int) -> None:
    """Close the bot's streaming answers of a conversation it no longer holds, with the text
    their last heartbeat saved.

    Their writers notice at their next heartbeat, but a conversation handed back to the bot
    before then would look held again: only the answer's own state tells it from the bot's
    next answer.
    """
    streaming = Message.objects.filter(
        conversation_id=conversation_id,
        author_kind=Message.AuthorKind.BOT,
        state=Message.State.STREAMING,
    )
    for message in streaming.select_for_update():
        message.state = Message.State.INTERRUPTED
        message.save(update_fields=["state", "updated_at"])
        transaction.on_commit(partial(events.message_finished, message))


def conversation_event_record(
    *, conversation: Conversation, kind: str, actor_id: int | None = None, data: dict | None = None
) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=conversation, kind=kind, actor_id=actor_id, data=data or {}
    )


_SEQ_FIELDS = ("id", "last_seq", "updated_at", "status")


def _seq_next(conversation_id: int, *, statuses: Sequence[str] | None = None) -> int:
    """Allocate the next seq of a conversation; the caller holds an open transaction.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent
    allocations on several workers wait for each other instead of colliding. With ``statuses``
    it is also the ownership check: it raises ``ConversationStatusChanged`` unless the
    conversation is in one of them, and holds the row so no takeover slips in before commit.
    One statement, ``UPDATE … RETURNING`` (PostgreSQL, SQLite ≥ 3.35), which ``QuerySet.update``
    cannot say: every message stored pays for this round trip while holding that lock.
    """
    if statuses is not None and not statuses:
        raise ConversationStatusChanged(conversation_id)
    quote = connection.ops.quote_name
    fields = {name: quote(Conversation._meta.get_field(name).column) for name in _SEQ_FIELDS}
    sql = (
        f"UPDATE {quote(Conversation._meta.db_table)}"  # noqa: S608 - names from the model
        f" SET {fields['last_seq']} = {fields['last_seq']} + 1, {fields['updated_at']} = %s"
        f" WHERE {fields['id']} = %s"
    )
    params: list[object] = [
        connection.ops.adapt_datetimefield_value(timezone.now()),
        conversation_id,
    ]
    if statuses is not None:
        sql += f" AND {fields['status']} IN ({', '.join(['%s'] * len(statuses))})"
        params.extend(statuses)
    with connection.cursor() as cursor:
        cursor.execute(sql + f" RETURNING {fields['last_seq']}", params)
        row = cursor.fetchone()
    if row is None:
        raise ConversationStatusChanged(conversation_id)
    return row[0]


@dataclass(frozen=True)
class VisitorMessageResult:
    message: Message
    created: bool


def _attachment_add(message: Message, attachment: StoredFile | None) -> Attachment | None:
    """Store ``attachment``'s row with its message (in the message's transaction); the row, for
    the message's publishing."""
    if attachment is None:
        return None
    return Attachment.objects.create(
        message=message,
        file=attachment.path,
        name=attachment.name,
        content_type=attachment.content_type,
        size=attachment.size,
        width=attachment.width,
        height=attachment.height,
    )


def message_create_from_visitor(
    *, conversation: Conversation, client_id: str, text: str, attachment: StoredFile | None = None
) -> VisitorMessageResult:
    """Store a visitor's message once per ``client_id``; a resend returns the stored one.

    The message is committed before this returns, so the caller may acknowledge it. A new
    message for a closed conversation raises ``ConversationStatusChanged``: it belongs in a new
    conversation. A resend may arrive in the visitor's next conversation (a tab that reconnects
    after an agent closed the one it sent in, and another tab began the next): it is found in
    the closed one, not stored again. ``attachment``'s row is stored with the message; when
    this returns an earlier message instead, the caller removes the file it wrote. A site
    that masks personal data gets the text and the file's name stored masked.
    """
    earlier = Message.objects.filter(
        conversation__visitor_id=conversation.visitor_id,
        conversation__status=Conversation.Status.CLOSED,
        client_id=client_id,
    ).first()
    if earlier is not None:
        return VisitorMessageResult(earlier, created=False)
    if conversation.site.mask_pii:
        text = pii_mask(text)
        if attachment is not None:  # "13812345678-id-card.png": a name is what was typed too
            name_limit = Attachment._meta.get_field("name").max_length
            attachment = replace(
                attachment, name=name_masked(attachment.name, max_length=name_limit)
            )
    try:
        with transaction.atomic():
            # A resend breaks the unique (conversation, client_id) constraint and rolls back
            # the seq too; two sockets resending at once queue on the seq lock first.
            message = Message.objects.create(
                conversation=conversation,
                seq=_seq_next(conversation.pk, statuses=OPEN_STATUSES),
                author_kind=Message.AuthorKind.VISITOR,
                client_id=client_id,
                text=text,
            )
            row = _attachment_add(message, attachment)
            transaction.on_commit(lambda: events.message_created(message, attachment=row))
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
    owner: str | None = None,
    attachment: StoredFile | None = None,
    client_id: str = "",
) -> Message:
    """Store a bot, agent or system message (an agent's with its ``attachment``) and publish
    it after commit. A ``client_id`` already in the conversation raises ``IntegrityError``.

    ``owner`` is the status the conversation must have for this author to speak (``bot`` for
    the bot, ``agent`` for an agent); otherwise ``ConversationStatusChanged`` is raised and
    nothing is stored or published.
    """
    with transaction.atomic():
        message = Message.objects.create(
            conversation_id=conversation_id,
            seq=_seq_next(conversation_id, statuses=None if owner is None else [owner]),
            author_kind=author_kind,
            author_id=author_id,
            text=text,
            state=state,
            citations=list(citations),
            client_id=client_id,
        )
        row = _attachment_add(message, attachment)
        transaction.on_commit(lambda: events.message_created(message, attachment=row))
    return message


def message_finish(
    *,
    message: Message,
    text: str,
    state: str,
    citations: Sequence[events.Citation] = (),
    owner: str | None = None,
) -> bool:
    """Store the final text of a streamed message and publish ``chat.done`` after commit.

    With ``owner``, as in ``message_create``: unless the conversation still has that status,
    ``ConversationStatusChanged`` is raised and the message is left as it was. A message no
    longer streaming (the sweep closed it when its writer seemed gone) is left as it was too;
    returns whether this call finished it.
    """
    with transaction.atomic():
        if owner is not None:
            # Written first to hold the row until commit: no takeover lands in between.
            held = Conversation.objects.filter(pk=message.conversation_id, status=owner).update(
                updated_at=timezone.now()
            )
            if held != 1:
                raise ConversationStatusChanged(message.conversation_id)
        finished = Message.objects.filter(pk=message.pk, state=Message.State.STREAMING).update(
            text=text, state=state, citations=list(citations), updated_at=timezone.now()
        )
        if finished != 1:
            return False
        message.text = text
        message.state = state
        message.citations = list(citations)
        transaction.on_commit(lambda: events.message_finished(message))
    return True
