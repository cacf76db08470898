"""A waiting visitor whose last agent went offline is offered the form, not a wait for ever."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.chat.models import Conversation, Message
from apps.handoff.models import AgentSession, Ticket
from tests.handoff.sockets import (
    console_socket,
    frame_of,
    frames_with,
    system_texts,
    visitor_socket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

NOBODY = "No agent is available right now. Leave a message and we will get back to you."


@pytest.fixture
def no_grace(settings) -> None:
    settings.CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS = 0.0


async def waiting(widget) -> None:
    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "conversation.status")
    assert {"type": "handoff.ack", "state": "waiting"} in frames


async def waiting_with(agent, visitor) -> tuple:
    """The agent's console open, the visitor waiting for them: (console, ready, widget)."""
    console, ready = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await waiting(widget)
    return console, ready, widget


async def test_the_last_agent_leaving_offers_the_form_and_keeps_the_ticket(
    english, visitor, agent, no_grace
):
    console, _, widget = await waiting_with(agent, visitor)
    ticket = await Ticket.objects.aget()

    await console.disconnect()
    frames = await frames_with(widget, "conversation.status", "handoff.unavailable")
    assert {"type": "conversation.status", "status": "bot", "reason": "nobody_online"} in frames
    assert {"type": "handoff.unavailable", "reason": "nobody_online", "opens_at": None} in frames
    assert system_texts(frames) == [NOBODY]
    # Still in the queue for an agent who comes back.
    await ticket.arefresh_from_db()
    assert (ticket.status, ticket.assignee_id) == (Ticket.Status.NEW, None)

    await widget.send_json_to(
        {
            "type": "leave_message",
            "client_id": "c-left-0001",
            "name": "Li Lei",
            "email": "li@example.com",
            "text": "My lamp arrived broken, order 1234.",
        }
    )
    ack = await frame_of(widget, "leave_message.ack")
    assert ack["ticket_id"] == ticket.pk
    assert await Ticket.objects.acount() == 1
    await ticket.arefresh_from_db()
    assert (ticket.channel, ticket.contact_email) == (Ticket.Channel.MESSAGE, "li@example.com")

    # The agent comes back and takes it: the conversation is theirs again.
    console, ready = await console_socket(agent)
    assert [t["id"] for t in ready["tickets"]] == [ticket.pk]
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket.pk, "ref": "c1"})
    status = await frame_of(widget, "conversation.status")
    assert (status["status"], status["reason"]) == ("agent", "claim")
    await widget.disconnect()
    await console.disconnect()


async def test_a_console_reload_within_the_grace_period_keeps_the_visitor_waiting(
    english, visitor, agent, settings
):
    settings.CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS = 2.0
    console, _, widget = await waiting_with(agent, visitor)
    await console.disconnect()
    # The visitor asks again meanwhile (their widget reconnected first): still waiting.
    await widget.send_json_to({"type": "handoff.request"})
    assert await frame_of(widget, "handoff.ack") == {"type": "handoff.ack", "state": "unchanged"}
    console, _ = await console_socket(agent)  # the reload's new socket
    assert await widget.receive_nothing(timeout=2.5)
    conversation = await Conversation.objects.aget()
    assert conversation.status == Conversation.Status.WAITING
    await widget.disconnect()
    await console.disconnect()


async def test_a_colleague_still_online_keeps_the_visitor_waiting(
    english, visitor, agent, teammate, no_grace
):
    console, _ = await console_socket(agent)
    other, _ = await console_socket(teammate)
    widget, _ = await visitor_socket(visitor)
    await waiting(widget)
    await console.disconnect()
    assert await widget.receive_nothing(timeout=0.3)
    assert (await Conversation.objects.aget()).status == Conversation.Status.WAITING
    await widget.disconnect()
    await other.disconnect()


async def test_setting_away_counts_as_leaving(english, visitor, agent, no_grace):
    console, _, widget = await waiting_with(agent, visitor)
    await console.send_json_to({"type": "presence.set", "availability": "away", "ref": "p"})
    unavailable = await frame_of(widget, "handoff.unavailable")
    assert unavailable["reason"] == "nobody_online"
    await widget.disconnect()
    await console.disconnect()


async def agent_worker_died() -> None:
    # Its socket never closed: the session just stops being refreshed.
    await AgentSession.objects.all().adelete()


async def test_writing_to_a_waiting_conversation_nobody_can_take_offers_the_form(
    english, visitor, agent
):
    console, _, widget = await waiting_with(agent, visitor)
    await agent_worker_died()

    await widget.send_json_to({"type": "message.send", "client_id": "c-0000001", "text": "hello?"})
    frames = await frames_with(widget, "message.ack", "handoff.unavailable", "conversation.status")
    assert system_texts(frames) == [NOBODY]
    # The bot does not answer the message that found nobody.
    assert await widget.receive_nothing(timeout=0.2)
    assert not await Message.objects.filter(author_kind=Message.AuthorKind.BOT).aexists()
    assert await Ticket.objects.filter(status=Ticket.Status.NEW).aexists()
    await widget.disconnect()
    await console.disconnect()


async def test_asking_again_on_reconnecting_offers_the_form_when_nobody_can_take_it(
    english, visitor, agent
):
    console, _, widget = await waiting_with(agent, visitor)
    await widget.disconnect()

    # Still someone there: the visitor keeps waiting.
    widget, ready = await visitor_socket(visitor)
    assert ready["conversation"]["status"] == "waiting"
    await widget.send_json_to({"type": "handoff.request"})
    assert await frame_of(widget, "handoff.ack") == {"type": "handoff.ack", "state": "unchanged"}

    await agent_worker_died()
    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "handoff.unavailable")
    assert {"type": "handoff.ack", "state": "unavailable"} in frames
    ticket = await Ticket.objects.aget()
    event = await database_sync_to_async(
        lambda: ticket.conversation.events.filter(kind="handoff.unavailable").get()
    )()
    assert event.data == {
        "reason": "customer_request",
        "by": "system",
        "why": "nobody_online",
        "ticket": ticket.pk,
    }
    await widget.disconnect()
    await console.disconnect()


async def test_a_transfer_to_a_team_nobody_of_which_is_online_offers_the_form(
    english, visitor, agent, rival_agent
):
    console, ready, widget = await waiting_with(agent, visitor)
    ticket = await Ticket.objects.aget()
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket.pk, "ref": "c"})
    await frame_of(widget, "conversation.status")
    billing = next(t for t in ready["teams"] if t["name"] == "Billing")

    await console.send_json_to(
        {"type": "ticket.transfer", "ticket_id": ticket.pk, "team_id": billing["id"]}
    )
    frames = await frames_with(widget, "handoff.unavailable")
    statuses = [(f["status"], f["reason"]) for f in frames if f["type"] == "conversation.status"]
    assert statuses == [("waiting", "transfer"), ("bot", "nobody_online")]
    await ticket.arefresh_from_db()
    assert (ticket.team_id, ticket.status) == (billing["id"], Ticket.Status.NEW)
    await widget.disconnect()
    await console.disconnect()


def test_a_form_sent_late_to_a_ticket_an_agent_took_leaves_it_a_live_chat(english, visitor, agent):
    from apps.chat.services import conversation_open
    from apps.handoff.services import handoff_request, ticket_claim, ticket_leave_message
    from apps.handoff.services.presence import agent_session_open

    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    ticket_id = handoff_request(
        conversation_id=conversation.pk, reason="customer_request"
    ).ticket_id
    ticket_claim(ticket_id=ticket_id, agent=agent)
    left = ticket_leave_message(
        conversation_id=conversation.pk,
        client_id="c-late-form",
        name="Li Lei",
        email="li@example.com",
        text="Are you still there?",
    )
    assert left.ticket.pk == ticket_id
    ticket = Ticket.objects.get(pk=ticket_id)
    assert (ticket.channel, ticket.contact_email) == (Ticket.Channel.CHAT, "li@example.com")
