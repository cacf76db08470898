"""An assigned ticket is its assignee's: a teammate cannot end, pend or pass it on under them."""

from __future__ import annotations

import pytest

from apps.chat.models import Conversation
from apps.chat.services import conversation_open
from apps.handoff.models import Team, Ticket
from apps.handoff.services import (
    TicketConflict,
    handoff_request,
    ticket_claim,
    ticket_close,
    ticket_hand_back,
    ticket_solve,
    ticket_transfer,
    ticket_update,
)
from apps.handoff.services.presence import agent_session_open
from tests.handoff.sockets import console_socket, frame_of, visitor_socket
from tests.handoff.test_transitions import claimed_ticket

pytestmark = [pytest.mark.django_db(transaction=True)]


def waiting(visitor, agent) -> Ticket:
    """A ticket in the queue, ``agent`` being online to take it."""
    agent_session_open(user=agent, channel_name=f"test.{agent.username}")
    conversation = conversation_open(visitor=visitor)
    outcome = handoff_request(conversation_id=conversation.pk, reason="customer_request")
    return Ticket.objects.get(pk=outcome.ticket_id)


@pytest.fixture
def meis(english, visitor, agent, team) -> Ticket:
    """A ticket Mei claimed; her teammate Li may see it, not work it."""
    return ticket_claim(ticket_id=waiting(visitor, agent).pk, agent=agent)


def state(ticket: Ticket) -> tuple[str, int | None, int | None]:
    ticket = Ticket.objects.get(pk=ticket.pk)
    return ticket.status, ticket.assignee_id, ticket.team_id


def billing(site) -> Team:
    return Team.objects.create(site=site, name="Billing")


ACTIONS = {
    "hand_back": lambda ticket, by: ticket_hand_back(ticket_id=ticket.pk, agent=by),
    "solve": lambda ticket, by: ticket_solve(ticket_id=ticket.pk, agent=by),
    "close": lambda ticket, by: ticket_close(ticket_id=ticket.pk, agent=by),
    "pending": lambda ticket, by: ticket_update(ticket_id=ticket.pk, agent=by, pending=True),
    "transfer_to_self": lambda ticket, by: ticket_transfer(
        ticket_id=ticket.pk, agent=by, to_agent_id=by.pk
    ),
    "transfer_to_team": lambda ticket, by: ticket_transfer(
        ticket_id=ticket.pk, agent=by, to_team_id=billing(ticket.site).pk
    ),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_a_teammate_cannot_act_on_a_ticket_a_colleague_holds(meis, agent, teammate, action):
    with pytest.raises(TicketConflict) as refused:
        ACTIONS[action](meis, teammate)
    assert (refused.value.code, refused.value.details) == ("not_assignee", {"holder": "Mei"})
    assert state(meis) == ("open", agent.pk, meis.team_id)
    assert Conversation.objects.get(pk=meis.conversation_id).status == "agent"


@pytest.mark.parametrize("action", [action for action in ACTIONS if action != "transfer_to_self"])
def test_the_assignee_works_their_own_ticket(meis, agent, action):
    ACTIONS[action](meis, agent)
    assert state(meis) != ("open", agent.pk, meis.team_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_a_superuser_rescues_a_ticket_from_a_colleague(meis, teammate, action):
    teammate.is_superuser = True
    teammate.save(update_fields=["is_superuser"])
    ACTIONS[action](meis, teammate)
    assert state(meis) != ("open", meis.assignee_id, meis.team_id)


@pytest.mark.parametrize("action", ["solve", "close", "transfer_to_self", "transfer_to_team"])
def test_any_teammate_works_an_unassigned_ticket(english, visitor, agent, teammate, action):
    ticket = waiting(visitor, agent)
    ACTIONS[action](ticket, teammate)
    assert state(ticket) != ("new", None, ticket.team_id)


async def test_solve_on_a_colleagues_live_chat_is_refused_and_the_chat_goes_on(
    english, visitor, agent, teammate
):
    mei, _ = await console_socket(agent)
    li, _ = await console_socket(teammate)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, mei)

    await li.send_json_to({"type": "ticket.solve", "ticket_id": ticket["id"], "ref": "s"})
    assert await frame_of(li, "error") == {
        "type": "error",
        "code": "not_assignee",
        "message": "Mei is handling this ticket",
        "holder": "Mei",
        "ref": "s",
        "action": "ticket.solve",
        "ticket_id": ticket["id"],
    }
    # The visitor is told nothing: their conversation is still with Mei.
    assert await widget.receive_nothing(timeout=0.05)
    assert (await Ticket.objects.aget()).status == "open"
    assert (await Conversation.objects.aget()).status == "agent"
    for ws in (mei, li, widget):
        await ws.disconnect()


async def test_the_console_is_told_whether_its_agent_is_a_superuser(site, agent, teammate):
    teammate.is_superuser = True
    await teammate.asave(update_fields=["is_superuser"])
    mei, mei_ready = await console_socket(agent)
    li, li_ready = await console_socket(teammate)
    assert (mei_ready["agent"]["superuser"], li_ready["agent"]["superuser"]) == (False, True)
    for ws in (mei, li):
        await ws.disconnect()
