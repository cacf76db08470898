"""The only module that publishes chat events to the channel layer.

Each event is a TypedDict whose ``type`` is dotted (``chat.message``); the consumer handles it in
the method named with ``.`` → ``_``. Sync services publish through ``transaction.on_commit`` so
that no socket hears of a row that might still roll back; the bot's streamed deltas are not
stored and are published directly from async code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from apps.chat.attachments import attachment_url
from apps.chat.models import Attachment, Message

logger = logging.getLogger(__name__)


class Citation(TypedDict):
    n: int
    title: str
    url: str


class AttachmentPayload(TypedDict):
    id: int
    name: str
    size: int
    content_type: str
    # Read from an image's header; None for a PDF, or an image whose header did not say.
    width: int | None
    height: int | None
    # Signed and expiring: what an <img src> (no headers) of the visitor's can load.
    url: str


class MessagePayload(TypedDict):
    id: int
    seq: int
    author: str
    author_name: str
    text: str
    citations: list[Citation]
    state: str
    client_id: str | None
    created_at: str
    attachment: AttachmentPayload | None


class ChatMessageEvent(TypedDict):
    type: Literal["chat.message"]
    conversation_id: int
    message: MessagePayload


class ChatDeltaEvent(TypedDict):
    type: Literal["chat.delta"]
    conversation_id: int
    message_id: int
    seq: int
    offset: int
    text: str


class ChatResetEvent(TypedDict):
    type: Literal["chat.reset"]
    conversation_id: int
    message_id: int
    seq: int


class ChatDoneEvent(TypedDict):
    type: Literal["chat.done"]
    conversation_id: int
    message: MessagePayload


class ChatTypingEvent(TypedDict):
    type: Literal["chat.typing"]
    conversation_id: int
    author: str
    name: str
    active: bool


class ChatStatusEvent(TypedDict):
    type: Literal["chat.status"]
    conversation_id: int
    status: str
    reason: str


class ChatHandoffUnavailableEvent(TypedDict):
    """Nobody can take the conversation now: the widget offers to leave a message."""

    type: Literal["chat.handoff_unavailable"]
    conversation_id: int
    reason: str
    # When the site opens again (ISO 8601), if it is closed now.
    opens_at: str | None


class ChatContinuedEvent(TypedDict):
    """The visitor's closed conversation goes on in their next one, begun from another socket."""

    type: Literal["chat.continued"]
    conversation_id: int
    next_conversation_id: int


class ChatErasedEvent(TypedDict):
    """The conversation was erased with its visitor: their sockets close."""

    type: Literal["chat.erased"]
    conversation_id: int


class ChatReadEvent(TypedDict):
    """The visitor's widget showed the conversation up to ``seq`` on screen."""

    type: Literal["chat.read"]
    conversation_id: int
    seq: int


ChatEvent = (
    ChatMessageEvent
    | ChatDeltaEvent
    | ChatResetEvent
    | ChatDoneEvent
    | ChatTypingEvent
    | ChatStatusEvent
    | ChatHandoffUnavailableEvent
    | ChatContinuedEvent
    | ChatErasedEvent
    | ChatReadEvent
)


def conversation_group(conversation_id: int) -> str:
    """Name the channel-layer group of everyone watching one conversation."""
    return f"conversation.{conversation_id}"


def message_payload(message: Message) -> MessagePayload:
    """A stored message as the protocol shows it, with its attachment read through the
    relation (``select_related("attachment")`` when there are many)."""
    return _message_described(message, _attachment_of(message))


def _message_described(message: Message, attachment: Attachment | None) -> MessagePayload:
    author_name = ""
    if message.author_kind == Message.AuthorKind.AGENT and message.author is not None:
        author_name = message.author.get_short_name() or message.author.get_username()
    return {
        "id": message.pk,
        "seq": message.seq,
        "author": message.author_kind,
        "author_name": author_name,
        "text": message.text,
        "citations": message.citations,
        "state": message.state,
        "client_id": message.client_id or None,
        "created_at": message.created_at.isoformat(),
        "attachment": None if attachment is None else _attachment_described(attachment),
    }


def attachment_payload(message: Message) -> AttachmentPayload | None:
    """The message's attachment, if it has one."""
    attachment = _attachment_of(message)
    return None if attachment is None else _attachment_described(attachment)


def _attachment_of(message: Message) -> Attachment | None:
    """Only visitors and agents send files: the bot's and the system's messages never ask the
    database."""
    if message.author_kind not in (Message.AuthorKind.VISITOR, Message.AuthorKind.AGENT):
        return None
    try:
        return message.attachment
    except Attachment.DoesNotExist:
        return None


def _attachment_described(attachment: Attachment) -> AttachmentPayload:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "width": attachment.width,
        "height": attachment.height,
        "url": attachment_url(attachment.pk),
    }


async def group_send(group: str, event: Mapping[str, Any]) -> None:
    """Send to a group; while the layer's Redis is down, log and drop the event.

    An event announces a row already committed, and clients catch up through ``resume`` (or
    the console's reload) when they reconnect: a layer outage must not turn a stored write into
    an error for its caller (a visitor's message stored but not acknowledged, an answer handed
    over because a delta could not be announced). The console's events go through here too.
    """
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    try:
        await layer.group_send(group, dict(event))
    except (RedisError, OSError) as exc:
        logger.warning("%s to %s not sent: %s", event["type"], group, exc)


async def _group_send(conversation_id: int, event: ChatEvent) -> None:
    await group_send(conversation_group(conversation_id), event)


def message_created(message: Message, *, attachment: Attachment | None) -> None:
    """Publish a message just stored, with the attachment stored with it (``None``: it has
    none, and the database is not asked again); call from ``transaction.on_commit``."""
    event: ChatMessageEvent = {
        "type": "chat.message",
        "conversation_id": message.conversation_id,
        "message": _message_described(message, attachment),
    }
    async_to_sync(_group_send)(message.conversation_id, event)


def message_finished(message: Message) -> None:
    """Publish the final text of a streamed message; call from ``transaction.on_commit``."""
    event: ChatDoneEvent = {
        "type": "chat.done",
        "conversation_id": message.conversation_id,
        "message": message_payload(message),
    }
    async_to_sync(_group_send)(message.conversation_id, event)


def status_changed(*, conversation_id: int, status: str, reason: str) -> None:
    """Publish a conversation's new status; call from ``transaction.on_commit``."""
    event: ChatStatusEvent = {
        "type": "chat.status",
        "conversation_id": conversation_id,
        "status": status,
        "reason": reason,
    }
    async_to_sync(_group_send)(conversation_id, event)


def handoff_unavailable(*, conversation_id: int, reason: str, opens_at: str | None) -> None:
    """Tell the conversation nobody can take it now; call from ``transaction.on_commit``."""
    event: ChatHandoffUnavailableEvent = {
        "type": "chat.handoff_unavailable",
        "conversation_id": conversation_id,
        "reason": reason,
        "opens_at": opens_at,
    }
    async_to_sync(_group_send)(conversation_id, event)


def conversation_continued(*, closed_id: int, next_id: int) -> None:
    """Send the visitor's other sockets on ``closed_id`` to ``next_id``; call from
    ``transaction.on_commit``."""
    event: ChatContinuedEvent = {
        "type": "chat.continued",
        "conversation_id": closed_id,
        "next_conversation_id": next_id,
    }
    async_to_sync(_group_send)(closed_id, event)


def conversation_erased(conversation_id: int) -> None:
    """Close the sockets on an erased conversation; call from ``transaction.on_commit``."""
    event: ChatErasedEvent = {"type": "chat.erased", "conversation_id": conversation_id}
    async_to_sync(_group_send)(conversation_id, event)


def visitor_read(*, conversation_id: int, seq: int) -> None:
    """Tell the agents what the visitor has read; call from ``transaction.on_commit``."""
    event: ChatReadEvent = {"type": "chat.read", "conversation_id": conversation_id, "seq": seq}
    async_to_sync(_group_send)(conversation_id, event)


async def delta_publish(
    *, conversation_id: int, message_id: int, seq: int, offset: int, text: str
) -> None:
    event: ChatDeltaEvent = {
        "type": "chat.delta",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "seq": seq,
        "offset": offset,
        "text": text,
    }
    await _group_send(conversation_id, event)


async def reset_publish(*, conversation_id: int, message_id: int, seq: int) -> None:
    event: ChatResetEvent = {
        "type": "chat.reset",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "seq": seq,
    }
    await _group_send(conversation_id, event)


async def typing_publish(*, conversation_id: int, author: str, name: str, active: bool) -> None:
    event: ChatTypingEvent = {
        "type": "chat.typing",
        "conversation_id": conversation_id,
        "author": author,
        "name": name,
        "active": active,
    }
    await _group_send(conversation_id, event)
