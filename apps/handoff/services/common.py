"""What every transition shares: outcomes, errors, telling the visitor, recording, publishing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from apps.chat import events as chat_events
from apps.chat.models import Conversation, ConversationEvent, Message
from apps.chat.selectors import conversation_language
from apps.chat.services import (
    conversation_event_record,
    conversation_status_move,
    message_create,
)
from apps.handoff import events
from apps.handoff.models import Ticket
from apps.handoff.selectors import (
    Availability,
    display_name,
    ticket_get_for_agent,
)
from apps.handoff.texts import text_for

Status = Conversation.Status


@dataclass(frozen=True)
class HandoffOutcome:
    # "waiting" (queued for an agent), "assigned" (round-robin gave it to one at once),
    # "unavailable" (nobody can take it now: leave a message) or "unchanged" (not the bot's).
    state: str
    ticket_id: int | None = None
    unavailable_reason: str = ""


class TicketNotFound(Exception):
    """No ticket with this id in the agent's teams (it may exist elsewhere: we do not say)."""


class TicketConflict(Exception):
    """The ticket is not in a state that allows this; ``code`` names why, for the console.

    ``details`` are what the console needs to word the error in the agent's language (the
    colleague who holds the ticket, say); ``message`` is the English wording.
    """

    def __init__(self, code: str, message: str, **details: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


# --- helpers ---------------------------------------------------------------------------------


def conversation_get(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("site", "visitor").get(pk=conversation_id)


def announce(conversation: Conversation, key: str, **values: str) -> Message:
    """Tell the visitor what happened, as a system message in their language."""
    return announce_text(conversation, text_for(key, conversation_language(conversation), **values))


def announce_text(conversation: Conversation, text: str) -> Message:
    """Tell the visitor ``text``, already in their language, as a system message."""
    return message_create(
        conversation_id=conversation.pk, author_kind=Message.AuthorKind.SYSTEM, text=text
    )


def record(
    conversation: Conversation, kind: str, *, actor: Any = None, **data: Any
) -> ConversationEvent:
    return conversation_event_record(
        conversation=conversation,
        kind=kind,
        actor_id=None if actor is None else actor.pk,
        data=data,
    )


def publish_status(conversation_id: int, status: str, reason: str) -> None:
    transaction.on_commit(
        lambda: chat_events.status_changed(
            conversation_id=conversation_id, status=status, reason=reason
        )
    )


def publish_unavailable(conversation_id: int, availability: Availability) -> None:
    """Once committed, tell the visitor nobody can come (why, and when the team opens): the
    widget offers the leave-a-message form."""
    opens_at = availability.opens_at.isoformat() if availability.opens_at else None
    transaction.on_commit(
        lambda: chat_events.handoff_unavailable(
            conversation_id=conversation_id, reason=availability.reason, opens_at=opens_at
        )
    )


def publish_ticket(ticket_id: int, *, previous_team_id: int | None = None) -> None:
    transaction.on_commit(
        lambda: events.ticket_changed(ticket_id=ticket_id, previous_team_id=previous_team_id)
    )


def agent_ticket(agent: Any, ticket_id: int) -> Ticket:
    ticket = ticket_get_for_agent(user=agent, ticket_id=ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def assignee_check(ticket: Ticket, agent: Any) -> None:
    """Refuse ``agent`` a ticket a colleague is assigned to (``not_assignee``, naming them).

    Ending, handing back, setting pending or passing on an assigned ticket is its assignee's:
    a teammate who lost the claim race must not close the chat under them. A superuser may, as
    the site's admin rescuing a ticket from an agent who left. An unassigned ticket is the
    team's. The caller's UPDATE also requires ``assignee_id=ticket.assignee_id``, so a claim
    landing after this read is not undone ("changed").
    """
    if ticket.assignee is None or ticket.assignee_id == agent.pk or agent.is_superuser:
        return
    name = display_name(ticket.assignee)
    raise TicketConflict("not_assignee", f"{name} is handling this ticket", holder=name)


def team_label(ticket: Ticket) -> str:
    return ticket.team.name if ticket.team is not None else ticket.site.name


def agent_join(ticket: Ticket, agent: Any, *, via: str, actor: Any) -> None:
    """Put ``agent`` in the ticket's conversation; the caller already made them the assignee."""
    conversation = conversation_get(ticket.conversation_id)
    # From bot too: an agent answering a left message takes the conversation over.
    moved = conversation_status_move(
        conversation_id=conversation.pk,
        from_statuses=[Status.BOT, Status.WAITING],
        to_status=Status.AGENT,
    )
    record(conversation, "handoff.assigned", actor=actor, agent=agent.pk, via=via, ticket=ticket.pk)
    announce(conversation, "joined", agent=display_name(agent), team=team_label(ticket))
    if moved:
        publish_status(conversation.pk, Status.AGENT, via)
    publish_ticket(ticket.pk)
