from __future__ import annotations

from apps.chat.events import MessagePayload, message_payload
from apps.chat.models import Attachment, Conversation, Message, Visitor
from apps.sites.models import Language


def visitor_get(*, public_id: str, site_id: int) -> Visitor | None:
    return (
        Visitor.objects.filter(public_id=public_id, site_id=site_id).select_related("site").first()
    )


def visitor_exists(*, visitor_id: int) -> bool:
    return Visitor.objects.filter(pk=visitor_id).exists()


def visitor_email(*, visitor_id: int) -> str:
    """The email stored for the visitor ("" if none, or if they were erased)."""
    return Visitor.objects.filter(pk=visitor_id).values_list("email", flat=True).first() or ""


def conversation_language(conversation: Conversation) -> str:
    """The language to address the conversation's visitor in: theirs if known, else the site's."""
    for code in (conversation.language, conversation.visitor.language):
        if ours := Language.of(code):
            return ours
    return conversation.site.default_language


def visitor_language(*, visitor: Visitor) -> str:
    """The language the visitor last wrote in (their latest conversation's), else the browser's."""
    latest = (
        Conversation.objects.filter(visitor=visitor)
        .exclude(language="")
        .order_by("-created_at")
        .values_list("language", flat=True)
        .first()
    )
    return latest or visitor.language


def messages_after(
    *, conversation_id: int, after_seq: int, limit: int = 500
) -> list[MessagePayload]:
    """The conversation's messages with ``seq > after_seq``, oldest first, as protocol payloads.

    Past ``limit`` messages, the newest ``limit``: a visitor back after a long conversation
    needs its end, not its beginning.
    """
    newest = (
        Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
        .select_related("author", "attachment")
        .order_by("-seq")[:limit]
    )
    return [message_payload(message) for message in reversed(newest)]


def conversation_status(*, conversation_id: int) -> str:
    return Conversation.objects.values_list("status", flat=True).get(pk=conversation_id)


def conversation_get(*, conversation_id: int) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


def visitor_message_by_client_id(*, visitor_id: int, client_id: str) -> Message | None:
    """The visitor's message sent with ``client_id``, in any of their conversations."""
    return (
        Message.objects.filter(conversation__visitor_id=visitor_id, client_id=client_id)
        .select_related("author", "attachment")
        .first()
    )


def agent_message_by_client_id(*, ticket_id: int, agent_id: int, client_id: str) -> Message | None:
    """The agent's message sent with ``client_id`` in the ticket's conversation (a console
    upload retried after its answer was lost)."""
    return (
        Message.objects.filter(
            conversation__tickets__pk=ticket_id,
            author_kind=Message.AuthorKind.AGENT,
            author_id=agent_id,
            client_id=client_id,
        )
        .select_related("author", "attachment")
        .first()
    )


def attachment_for_visitor(*, attachment_id: int) -> Attachment | None:
    """The attachment a valid signed URL names (the signature is the visitor's proof)."""
    return Attachment.objects.filter(pk=attachment_id).first()
