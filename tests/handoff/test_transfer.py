"""Transfers reach someone who is there: an agent who is away or offline is refused."""

from __future__ import annotations

import pytest

from apps.handoff.models import Ticket
from tests.handoff.sockets import console_socket, frame_of, visitor_socket
from tests.handoff.test_transitions import claimed_ticket

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_transfer_to_an_offline_teammate_is_refused(english, visitor, agent, teammate):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)

    await console.send_json_to(
        {"type": "ticket.transfer", "ticket_id": ticket["id"], "agent_id": teammate.pk, "ref": "t"}
    )
    assert await frame_of(console, "error") == {
        "type": "error",
        "code": "agent_offline",
        "message": "Li is not online",
        "agent": "Li",
        "ref": "t",
        "action": "ticket.transfer",
        "ticket_id": ticket["id"],
    }
    # Nobody is said to have joined, and the ticket stays with its agent.
    assert await widget.receive_nothing(timeout=0.05)
    assert (await Ticket.objects.aget()).assignee_id == agent.pk
    await widget.disconnect()
    await console.disconnect()


async def test_a_transfer_to_a_teammate_who_is_away_is_refused(english, visitor, agent, teammate):
    console, _ = await console_socket(agent)
    other, _ = await console_socket(teammate)
    await other.send_json_to({"type": "presence.set", "availability": "away", "ref": "p"})
    await frame_of(other, "result")
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)

    await console.send_json_to(
        {"type": "ticket.transfer", "ticket_id": ticket["id"], "agent_id": teammate.pk}
    )
    assert (await frame_of(console, "error"))["code"] == "agent_offline"
    assert (await Ticket.objects.aget()).assignee_id == agent.pk
    for ws in (widget, console, other):
        await ws.disconnect()
