"""The queue's unread counts come from the server: a reload keeps them, what was seen is not."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.chat.services import conversation_open, message_create
from apps.handoff.models import Ticket
from apps.handoff.services import handoff_request, ticket_claim
from apps.handoff.services.presence import agent_session_open
from tests.handoff.sockets import console_socket, frame_of, visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


def handed_over_with_two_more_messages(visitor, agent) -> tuple[int, list[int]]:
    """A ticket whose visitor wrote twice after asking; return it and those messages' seqs."""
    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    message_create(conversation_id=conversation.pk, author_kind="visitor", text="My lamp broke.")
    ticket_id = handoff_request(
        conversation_id=conversation.pk, reason="customer_request"
    ).ticket_id
    later = [
        message_create(conversation_id=conversation.pk, author_kind="visitor", text=text).seq
        for text in ("Are you there?", "Hello?")
    ]
    return ticket_id, later


async def queue_unread(agent) -> dict[int, int]:
    console, ready = await console_socket(agent)
    await console.disconnect()
    return {ticket["id"]: ticket["unread"] for ticket in ready["tickets"]}


async def opened(agent, ticket_id: int):
    """The agent's console with the ticket open: what it reports on screen counts only then."""
    console, _ = await console_socket(agent)
    await console.send_json_to({"type": "ticket.open", "ticket_id": ticket_id})
    await frame_of(console, lambda f: f["type"] in ("ticket.detail", "error"))
    return console


async def seen(console, ticket_id: int, seq: int) -> None:
    await console.send_json_to({"type": "ticket.seen", "ticket_id": ticket_id, "seq": seq})


async def seen_from_a_console_of(agent, ticket_id: int, seq: int) -> None:
    """The agent opens the ticket, has it on screen up to ``seq``, and closes the console."""
    console = await opened(agent, ticket_id)
    await seen(console, ticket_id, seq)
    await console.send_json_to({"type": "ping"})
    await frame_of(console, "pong")  # the frame before it was handled
    await console.disconnect()


async def test_what_an_agent_had_on_screen_is_not_counted_after_a_reload(
    english, visitor, agent, teammate, rival_agent
):
    ticket_id, (first, second) = await database_sync_to_async(handed_over_with_two_more_messages)(
        visitor, agent
    )
    # Written since the ticket came in and seen by nobody (the question before it is in the
    # ticket's summary already).
    assert await queue_unread(agent) == {ticket_id: 2}

    unopened, _ = await console_socket(agent)
    await seen(unopened, ticket_id, first)  # a ticket this console did not open: ignored
    await unopened.disconnect()
    assert await queue_unread(agent) == {ticket_id: 2}
    console = await opened(agent, ticket_id)
    await seen(console, ticket_id, first)
    await seen(console, ticket_id, first - 1)  # older: ignored
    await seen(console, ticket_id, second + 5)  # past the last message: ignored
    await console.send_json_to({"type": "ticket.seen", "ticket_id": ticket_id, "seq": "2"})
    assert (await frame_of(console, "error"))["code"] == "bad_frame"
    await console.disconnect()
    # Unassigned, the team shares one count: a teammate's console starts from what Mei saw.
    assert await queue_unread(agent) == {ticket_id: 1}
    assert await queue_unread(teammate) == {ticket_id: 1}

    # An agent of another team cannot touch a ticket it may not see.
    await seen_from_a_console_of(rival_agent, ticket_id, second)
    assert await queue_unread(agent) == {ticket_id: 1}

    # Once Mei has it, a teammate glancing at it does not clear what she has not read.
    await database_sync_to_async(ticket_claim)(ticket_id=ticket_id, agent=agent)
    await seen_from_a_console_of(teammate, ticket_id, second)
    assert await queue_unread(agent) == {ticket_id: 1}
    await seen_from_a_console_of(agent, ticket_id, second)
    assert await queue_unread(agent) == {ticket_id: 0}


async def test_the_console_hears_how_far_the_visitor_read(english, visitor, agent):
    ticket_id, (_, second) = await database_sync_to_async(handed_over_with_two_more_messages)(
        visitor, agent
    )
    console = await opened(agent, ticket_id)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "resume", "last_seq": 0})
    await frame_of(widget, "resumed")
    await widget.send_json_to({"type": "read", "seq": second})
    assert await frame_of(console, "conversation.read") == {
        "type": "conversation.read",
        "conversation_id": (await Ticket.objects.aget(pk=ticket_id)).conversation_id,
        "seq": second,
    }
    await widget.disconnect()
    await console.disconnect()
