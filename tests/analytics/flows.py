"""Conversations built the way production builds them: the chat, bot and handoff services.

Each helper does what the visitor's socket or the agent's console does, in the same order
(``apps/chat/consumers.py``), synchronously, so a test can move the clock between steps.
"""

from __future__ import annotations

import itertools
from typing import Any

from asgiref.sync import async_to_sync

from apps.bot.services import reply_run
from apps.chat.models import Conversation, Message, Visitor
from apps.chat.services import conversation_open, message_create_from_visitor
from apps.handoff.details import HandoffDetail
from apps.handoff.models import Ticket
from apps.handoff.services import (
    handoff_request,
    handoff_triggers_check,
    ticket_claim,
    ticket_reply,
    ticket_solve,
)
from apps.llm.services import usage_flush

_client_ids = itertools.count(1)


async def _reply(conversation_id: int, question_id: int) -> None:
    await reply_run(conversation_id=conversation_id, question_id=question_id)
    await usage_flush()


def ask(visitor: Visitor, text: str) -> Message:
    """The visitor sends ``text``; the bot answers it, or the words hand the conversation over.

    Returns the visitor's message.
    """
    conversation = conversation_open(visitor=visitor)
    stored = message_create_from_visitor(
        conversation=conversation, client_id=f"c-{next(_client_ids):08d}", text=text
    )
    conversation.refresh_from_db()
    if conversation.status == Conversation.Status.BOT and (
        handoff_triggers_check(conversation=conversation, text=text) is None
    ):
        async_to_sync(_reply)(conversation.pk, stored.message.pk)
    return stored.message


def bot_replies(visitor: Visitor) -> list[Message]:
    return list(
        Message.objects.filter(
            conversation__visitor=visitor, author_kind=Message.AuthorKind.BOT
        ).order_by("conversation", "seq")
    )


def ask_for_a_human(visitor: Visitor) -> Ticket | None:
    """The widget's "talk to a human" button; the ticket, or None if nobody could come."""
    conversation = conversation_open(visitor=visitor)
    outcome = handoff_request(
        conversation_id=conversation.pk,
        reason=Ticket.Reason.CUSTOMER_REQUEST,
        detail=HandoffDetail("widget_button"),
        by="visitor",
    )
    return Ticket.objects.get(pk=outcome.ticket_id) if outcome.ticket_id else None


def agent_solves(ticket: Ticket, agent: Any, *, reply: str = "Done, sorry for the wait.") -> None:
    """The agent claims the ticket, answers once, and solves it."""
    ticket_claim(ticket_id=ticket.pk, agent=agent)
    ticket_reply(ticket_id=ticket.pk, agent=agent, text=reply)
    ticket_solve(ticket_id=ticket.pk, agent=agent)
