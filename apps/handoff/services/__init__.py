"""The conversation state machine shared by the bot and agents, and the tickets it opens.

``bot → waiting → agent → (hand back) bot``, and any open status ``→ closed``. Every transition
is a conditional UPDATE of the conversation's status (``conversation_status_move``), recorded as
a ConversationEvent saying who and why, told to the visitor as a system message in their
language, and published after commit. Agents act through these functions only; each checks
that the ticket belongs to one of the agent's teams.
"""

from __future__ import annotations

from apps.handoff.services.assignment import ticket_claim, ticket_transfer, tickets_autoassign
from apps.handoff.services.common import HandoffOutcome, TicketConflict, TicketNotFound
from apps.handoff.services.requests import (
    LeftMessage,
    VisitorMessageReceived,
    handoff_request,
    handoff_triggers_check,
    ticket_leave_message,
    visitor_message_receive,
)
from apps.handoff.services.tickets import (
    ticket_close,
    ticket_hand_back,
    ticket_note_add,
    ticket_reply,
    ticket_seen,
    ticket_solve,
    ticket_update,
    ticket_visitor_replied,
)

__all__ = [
    "HandoffOutcome",
    "LeftMessage",
    "TicketConflict",
    "TicketNotFound",
    "VisitorMessageReceived",
    "handoff_request",
    "handoff_triggers_check",
    "ticket_claim",
    "ticket_close",
    "ticket_hand_back",
    "ticket_leave_message",
    "ticket_note_add",
    "ticket_reply",
    "ticket_seen",
    "ticket_solve",
    "ticket_transfer",
    "ticket_update",
    "ticket_visitor_replied",
    "tickets_autoassign",
    "visitor_message_receive",
]
