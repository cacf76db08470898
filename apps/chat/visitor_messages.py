"""A message the visitor sends, on the socket (``message.send``, ``leave_message``) or as a file
(the widget's upload): the checks it passes first, and the conversation it goes into.

One place for both ways in, so a file and a text are held to the same rules (docs/protocol.md
sections 1, 3 and 6). Storing once per ``client_id`` is ``message_create_from_visitor``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from django.conf import settings

from apps.chat.attachments import StoredFile
from apps.chat.models import Conversation, Visitor
from apps.chat.selectors import visitor_email
from apps.chat.services import ConversationStatusChanged, conversation_next, conversation_open
from apps.core.ratelimit import rate_limit_hit
from apps.handoff.services import VisitorMessageReceived, visitor_message_receive
from apps.sites.models import Site

Stored = TypeVar("Stored")


class VisitorMessageRefused(Exception):
    """The visitor may not send this now; nothing was stored. ``code`` and ``message`` are what
    the socket's ``error`` frame and the upload's JSON error say."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def visitor_message_admit(*, visitor: Visitor) -> None:
    """Refuse a message the visitor may not send now (``VisitorMessageRefused``), else count it.

    ``email_required`` when their site requires an email before the first message and they
    gave none: read again while missing (another tab may have given it since) and kept on
    ``visitor``. Then ``rate_limited`` (``visitor_writes_count``). A resend counts too: only
    storing it finds it a duplicate.
    """
    if visitor.site.prechat == Site.Prechat.REQUIRE and not visitor.email:
        visitor.email = visitor_email(visitor_id=visitor.pk)
        if not visitor.email:
            raise VisitorMessageRefused(
                "email_required",
                "this site asks for an email address before the first message: send identify "
                "with one",
            )
    visitor_writes_count(visitor=visitor)


def visitor_writes_count(*, visitor: Visitor) -> None:
    """Count one write of the visitor's to their conversation (a message, a file, a hand-off
    request, a left message) against ``CSBOT_MESSAGES_PER_MINUTE``; ``VisitorMessageRefused``
    (``rate_limited``) past it."""
    limit = settings.CSBOT_MESSAGES_PER_MINUTE
    if not rate_limit_hit(
        scope="visitor-messages", key=str(visitor.public_id), limit=limit, window_seconds=60
    ):
        raise VisitorMessageRefused(
            "rate_limited", f"at most {limit} messages a minute; wait a moment"
        )


@dataclass(frozen=True)
class Written(Generic[Stored]):
    stored: Stored
    # The visitor's next conversation, which what they sent opened because the one it was sent
    # to was closed meanwhile; None when it went where it was sent.
    opened: Conversation | None = None


def visitor_conversation_write(
    *, visitor: Visitor, conversation_id: int | None, store: Callable[..., Stored]
) -> Written[Stored]:
    """Run ``store(conversation_id=…)`` for the conversation the visitor wrote in: the socket's
    ``conversation_id``, or with ``None`` (an upload, which has no socket) their latest, begun
    now if they have none.

    Closed meanwhile (an agent solved it as the visitor wrote): what they sent opens their next
    conversation (``conversation_next``: the one another tab began, else a new one their other
    sockets follow) and is stored there. A resend of something already stored is found either
    way and stores nothing.
    """
    if conversation_id is None:
        conversation_id = conversation_open(visitor=visitor).pk
    try:
        return Written(store(conversation_id=conversation_id))
    except ConversationStatusChanged:
        following = conversation_next(visitor=visitor, closed_id=conversation_id)
        return Written(store(conversation_id=following.pk), opened=following)


def visitor_message_send(
    *,
    visitor: Visitor,
    conversation_id: int | None,
    client_id: str,
    text: str,
    attachment: StoredFile | None = None,
) -> Written[VisitorMessageReceived]:
    """Store the visitor's message (with its ``attachment``) in the conversation they wrote in
    (``visitor_conversation_write``), committed before this returns; the caller checked it
    with ``visitor_message_admit`` first."""
    return visitor_conversation_write(
        visitor=visitor,
        conversation_id=conversation_id,
        store=partial(
            visitor_message_receive, client_id=client_id, text=text, attachment=attachment
        ),
    )
