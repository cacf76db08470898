"""A ticket waiting on the visitor (pending): its resolution clock stops until they answer."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.chat.services import conversation_open
from apps.handoff.models import Ticket
from apps.handoff.services import (
    handoff_request,
    ticket_claim,
    ticket_solve,
    ticket_update,
    ticket_visitor_replied,
)
from apps.handoff.services.presence import agent_session_open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def claimed(site, visitor, agent, team) -> Ticket:
    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    ticket_id = handoff_request(
        conversation_id=conversation.pk, reason="customer_request"
    ).ticket_id
    return ticket_claim(ticket_id=ticket_id, agent=agent)


def waited(ticket: Ticket, minutes: int) -> None:
    """Pretend the ticket has been pending ``minutes`` minutes already."""
    Ticket.objects.filter(pk=ticket.pk).update(
        pending_since=Ticket.objects.get(pk=ticket.pk).pending_since - dt.timedelta(minutes=minutes)
    )


def test_reopening_moves_the_resolution_due_time_by_the_time_spent_pending(claimed, agent):
    due = claimed.resolution_due_at

    paused = ticket_update(ticket_id=claimed.pk, agent=agent, pending=True)
    waited(claimed, 90)
    reopened = ticket_update(ticket_id=claimed.pk, agent=agent, pending=False)

    assert (paused.status, paused.resolution_due_at) == ("pending", due)
    assert paused.pending_since is not None
    assert (reopened.status, reopened.pending_since) == ("open", None)
    assert reopened.resolution_due_at == due + dt.timedelta(minutes=90)


def test_setting_pending_twice_keeps_the_clock_stopped_since_the_first_time(claimed, agent):
    first = ticket_update(ticket_id=claimed.pk, agent=agent, pending=True)

    again = ticket_update(ticket_id=claimed.pk, agent=agent, pending=True)

    assert again.pending_since == first.pending_since


def test_the_visitors_answer_reopens_a_pending_ticket_and_restarts_its_clock(claimed, agent):
    due = claimed.resolution_due_at
    ticket_update(ticket_id=claimed.pk, agent=agent, pending=True)
    waited(claimed, 45)

    assert ticket_visitor_replied(conversation_id=claimed.conversation_id) is True
    assert ticket_visitor_replied(conversation_id=claimed.conversation_id) is False

    reopened = Ticket.objects.get(pk=claimed.pk)
    assert (reopened.status, reopened.pending_since) == ("open", None)
    assert reopened.resolution_due_at == due + dt.timedelta(minutes=45)


def test_solving_a_pending_ticket_counts_against_the_paused_clock(claimed, agent):
    due = claimed.resolution_due_at
    ticket_update(ticket_id=claimed.pk, agent=agent, pending=True)
    waited(claimed, 600)

    solved = ticket_solve(ticket_id=claimed.pk, agent=agent)

    # Ten hours pending are not held against the agent: solved within the (moved) target.
    assert solved.resolution_due_at == due + dt.timedelta(minutes=600)
    assert solved.solved_at < solved.resolution_due_at
