"""Agents see which colleagues have the same ticket open ("Li is viewing"), live."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from apps.chat.services import conversation_open, message_create
from apps.handoff import viewers
from apps.handoff.events import ticket_group
from apps.handoff.services import handoff_request
from apps.handoff.services.presence import agent_session_open
from tests.handoff.sockets import console_socket, frame_of, frames_until
from tests.handoff.test_events import heard, listening

pytestmark = [pytest.mark.django_db(transaction=True)]


def tickets_waiting(*visitors, agent) -> list[int]:
    agent_session_open(user=agent, channel_name="test.mei")
    ids = []
    for visitor in visitors:
        conversation = conversation_open(visitor=visitor)
        message_create(conversation_id=conversation.pk, author_kind="visitor", text="Lamp broke")
        ids.append(handoff_request(conversation_id=conversation.pk, reason="customer_request"))
    return [outcome.ticket_id for outcome in ids]


async def opened(console, ticket_id: int) -> list[dict]:
    """Open the ticket; return who else views it, as the console is first told."""
    await console.send_json_to({"type": "ticket.open", "ticket_id": ticket_id})
    await frame_of(console, "ticket.detail")
    return (await frame_of(console, "ticket.viewers"))["viewers"]


async def viewers_heard(console, ticket_id: int) -> list[dict]:
    frame = await frame_of(console, "ticket.viewers")
    assert frame["ticket_id"] == ticket_id
    return frame["viewers"]


def li(typing: bool = False) -> dict:
    return {"name": "Li", "typing": typing}


def without_ids(found: list[dict]) -> list[dict]:
    return [{"name": viewer["name"], "typing": viewer["typing"]} for viewer in found]


async def test_teammates_with_the_ticket_open_see_each_other_as_they_come_and_go(
    english, visitor, other_visitor, agent, teammate, rival_agent
):
    first, second = await database_sync_to_async(tickets_waiting)(
        visitor, other_visitor, agent=agent
    )
    mei, _ = await console_socket(agent)
    assert await opened(mei, first) == []
    li_console, _ = await console_socket(teammate)
    assert await opened(li_console, first) == [{"id": agent.pk, "name": "Mei", "typing": False}]
    assert await viewers_heard(mei, first) == [{"id": teammate.pk, "name": "Li", "typing": False}]

    # Typing a reply shows; only a change is news.
    await li_console.send_json_to({"type": "typing", "ticket_id": first, "active": True})
    assert without_ids(await viewers_heard(mei, first)) == [li(typing=True)]
    await li_console.send_json_to({"type": "typing", "ticket_id": first, "active": True})
    await li_console.send_json_to({"type": "typing", "ticket_id": first, "active": False})
    assert without_ids(await viewers_heard(mei, first)) == [li()]

    # Another ticket opened, or the ticket left, or the console closed: Li is gone from it.
    assert await opened(li_console, second) == []
    assert await viewers_heard(mei, first) == []
    assert without_ids(await opened(li_console, first)) == [{"name": "Mei", "typing": False}]
    assert without_ids(await viewers_heard(mei, first)) == [li()]
    await li_console.send_json_to({"type": "ticket.leave", "ticket_id": first})
    assert await viewers_heard(mei, first) == []
    assert without_ids(await opened(li_console, first)) == [{"name": "Mei", "typing": False}]
    assert without_ids(await viewers_heard(mei, first)) == [li()]
    await li_console.disconnect()
    assert await viewers_heard(mei, first) == []

    # An agent of another team can neither open it nor show up in it.
    wang, _ = await console_socket(rival_agent)
    await wang.send_json_to({"type": "ticket.open", "ticket_id": first})
    assert (await frame_of(wang, "error"))["code"] == "not_found"
    await mei.send_json_to({"type": "ping"})
    assert "ticket.viewers" not in [f["type"] for f in await frames_until(mei, "pong")]
    await wang.disconnect()
    await mei.disconnect()


async def test_an_agent_with_two_consoles_stays_a_viewer_until_both_left(
    english, visitor, agent, teammate
):
    (ticket_id,) = await database_sync_to_async(tickets_waiting)(visitor, agent=agent)
    mei, _ = await console_socket(agent)
    await opened(mei, ticket_id)
    tabs = [(await console_socket(teammate))[0] for _ in range(2)]
    for tab in tabs:
        await opened(tab, ticket_id)
    assert without_ids(await viewers_heard(mei, ticket_id)) == [li()]
    await tabs[0].disconnect()
    # Li is still there: nothing changed for Mei until the second tab goes.
    await mei.send_json_to({"type": "ping"})
    assert "ticket.viewers" not in [f["type"] for f in await frames_until(mei, "pong")]
    await tabs[1].disconnect()
    assert await viewers_heard(mei, ticket_id) == []
    await mei.disconnect()


async def test_an_agent_sees_their_own_other_tab_with_the_ticket_open_and_typing(
    english, visitor, agent, teammate
):
    (ticket_id,) = await database_sync_to_async(tickets_waiting)(visitor, agent=agent)
    here, _ = await console_socket(agent)
    assert await opened(here, ticket_id) == []
    there, _ = await console_socket(agent)
    # Each tab names the other under the agent's own id, never itself.
    mei = {"id": agent.pk, "name": "Mei", "typing": False}
    assert await opened(there, ticket_id) == [mei]
    assert await viewers_heard(here, ticket_id) == [mei]

    await there.send_json_to({"type": "typing", "ticket_id": ticket_id, "active": True})
    assert await viewers_heard(here, ticket_id) == [{**mei, "typing": True}]
    # A colleague sees Mei once, typing, however many tabs she has.
    li_console, _ = await console_socket(teammate)
    assert await opened(li_console, ticket_id) == [{**mei, "typing": True}]
    assert without_ids(await viewers_heard(here, ticket_id)) == [
        {"name": "Li", "typing": False},
        {"name": "Mei", "typing": True},
    ]

    await there.send_json_to({"type": "ticket.leave", "ticket_id": ticket_id})
    assert without_ids(await viewers_heard(here, ticket_id)) == [li()]
    for console in (li_console, there, here):
        await console.disconnect()


async def test_a_colleague_whose_console_died_is_no_longer_shown_after_the_mark_lapses(
    english, visitor, agent, teammate, monkeypatch
):
    (ticket_id,) = await database_sync_to_async(tickets_waiting)(visitor, agent=agent)
    mei, _ = await console_socket(agent)
    await opened(mei, ticket_id)
    li_console, _ = await console_socket(teammate)
    await opened(li_console, ticket_id)
    assert without_ids(await viewers_heard(mei, ticket_id)) == [li()]

    # Li's worker dies: no disconnect, no more pings. Mei's next ping after the mark lapsed
    # finds Li gone (Mei's own ping keeps Mei's mark).
    later = time.time() + viewers.VIEWING_TTL_SECONDS + 1
    monkeypatch.setattr(viewers.time, "time", lambda: later)
    await mei.send_json_to({"type": "ping"})
    assert await viewers_heard(mei, ticket_id) == []
    await frame_of(mei, "pong")
    found = await database_sync_to_async(viewers.ticket_viewers)(
        ticket_id=ticket_id, user_ids=[agent.pk, teammate.pk], channel_name="test.elsewhere"
    )
    assert without_ids(found) == [{"name": "Mei", "typing": False}]
    monkeypatch.undo()
    await li_console.disconnect()
    await mei.disconnect()


async def test_handoff_viewers_event(english, visitor, agent):
    (ticket_id,) = await database_sync_to_async(tickets_waiting)(visitor, agent=agent)
    channel = await listening(ticket_group(ticket_id))
    mei, _ = await console_socket(agent)
    await opened(mei, ticket_id)
    assert await heard(channel, "handoff.viewers") == {
        "type": "handoff.viewers",
        "ticket_id": ticket_id,
    }
    await mei.disconnect()


async def test_a_leave_frame_is_validated(agent):
    mei, _ = await console_socket(agent)
    await mei.send_json_to({"type": "ticket.leave", "ticket_id": "1", "ref": "r1"})
    error = await frame_of(mei, "error")
    assert (error["code"], error["action"]) == ("bad_frame", "ticket.leave")
    await mei.disconnect()
