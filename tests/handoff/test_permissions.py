"""Who sees what: anonymous users, visitors, non-agents and other teams' agents see nothing."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from apps.chat.models import Message
from apps.handoff.models import Ticket, TicketNote
from apps.handoff.services.presence import agent_session_open
from tests.handoff.sockets import (
    console_communicator,
    console_socket,
    frame_of,
    frames_with,
    session_cookie,
    visitor_socket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


async def queued_ticket(widget, console) -> dict:
    await widget.send_json_to({"type": "handoff.request"})
    await frames_with(widget, "handoff.ack", "conversation.status")
    return (await frame_of(console, "ticket"))["ticket"]


async def test_an_anonymous_console_socket_is_closed_with_4401(site):
    ws = console_communicator(cookie=None)
    await ws.connect()
    closed = await ws.receive_output()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)
    await ws.disconnect()


async def test_a_visitor_token_does_not_open_the_console(site, visitor):
    from tests.conftest import token_for

    ws = console_communicator(cookie=None)
    await ws.connect()
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
    closed = await ws.receive_output()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)
    await ws.disconnect()


async def test_a_signed_in_user_outside_the_agents_group_is_closed_with_4403(site):
    user = await database_sync_to_async(get_user_model().objects.create_user)(
        username="clerk", is_staff=True
    )
    ws = console_communicator(await database_sync_to_async(session_cookie)(user))
    await ws.connect()
    closed = await ws.receive_output()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4403)
    await ws.disconnect()


async def test_a_console_from_another_host_is_refused(site, agent):
    ws = console_communicator(
        await database_sync_to_async(session_cookie)(agent), origin="https://evil.example.org"
    )
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()


async def test_another_teams_agent_sees_nothing_of_the_ticket(
    english, other_site, visitor, agent, rival_agent, other_agent
):
    mei, _ = await console_socket(agent)
    wang, wang_ready = await console_socket(rival_agent)
    otto, otto_ready = await console_socket(other_agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await queued_ticket(widget, mei)
    await mei.send_json_to({"type": "ticket.open", "ticket_id": ticket["id"]})
    await frame_of(mei, "ticket.detail")
    await mei.send_json_to({"type": "note.add", "ticket_id": ticket["id"], "text": "VIP"})
    await frame_of(mei, "note.new")

    for outsider in (wang, otto):
        # Nothing arrived live but agents' presence: not the ticket, the note, the messages.
        heard = []
        while not await outsider.receive_nothing(timeout=0.05):
            heard.append((await outsider.receive_json_from())["type"])
        assert set(heard) <= {"presence"}
        for frame in (
            {"type": "ticket.open", "ticket_id": ticket["id"]},
            {"type": "ticket.claim", "ticket_id": ticket["id"]},
            {"type": "note.add", "ticket_id": ticket["id"], "text": "peek"},
            {"type": "message.send", "ticket_id": ticket["id"], "text": "hi"},
            {"type": "typing", "ticket_id": ticket["id"], "active": True},
            {"type": "assist.request", "ticket_id": ticket["id"]},
            {"type": "ticket.solve", "ticket_id": ticket["id"]},
            {"type": "ticket.hand_back", "ticket_id": ticket["id"]},
            {"type": "ticket.transfer", "ticket_id": ticket["id"], "agent_id": rival_agent.pk},
            {"type": "ticket.update", "ticket_id": ticket["id"], "priority": "low"},
            {"type": "faq.promote", "ticket_id": ticket["id"], "question": "q", "answer": "a"},
        ):
            await outsider.send_json_to(frame)
            error = await outsider.receive_json_from(timeout=5)
            assert (error["type"], error["code"]) == ("error", "not_found"), frame
    # Their snapshots did not contain it either.
    assert wang_ready["tickets"] == []
    assert otto_ready["tickets"] == []
    assert {t["site_id"] for t in otto_ready["teams"]} == {other_site.pk}

    stored = await Ticket.objects.aget(pk=ticket["id"])
    assert (stored.status, stored.assignee_id, stored.priority) == ("new", None, "normal")
    assert await TicketNote.objects.acount() == 1
    assert not await Message.objects.filter(author_kind="agent").aexists()
    for ws in (mei, wang, otto, widget):
        await ws.disconnect()


async def test_a_visitor_socket_never_receives_notes_or_console_events(english, visitor, agent):
    mei, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await queued_ticket(widget, mei)
    await mei.send_json_to({"type": "ticket.claim", "ticket_id": ticket["id"]})
    await frame_of(mei, "result")
    await frames_with(widget, "conversation.status")
    while not await widget.receive_nothing(timeout=0.05):
        await widget.receive_json_from()

    await mei.send_json_to(
        {"type": "note.add", "ticket_id": ticket["id"], "text": "refund approved internally"}
    )
    await frame_of(mei, "note.new")
    await mei.send_json_to({"type": "ticket.update", "ticket_id": ticket["id"], "tags": ["vip"]})
    await frame_of(mei, "ticket")
    await mei.send_json_to({"type": "presence.set", "availability": "away"})
    await frame_of(mei, "presence")
    assert await widget.receive_nothing(timeout=0.1)

    await widget.send_json_to({"type": "resume", "last_seq": 0})
    frames = []
    while not frames or frames[-1]["type"] != "resumed":
        frames.append(await widget.receive_json_from(timeout=5))
    texts = " ".join(f["message"]["text"] for f in frames if f["type"] == "message.new")
    assert "refund approved internally" not in texts
    await widget.disconnect()
    await mei.disconnect()


def test_the_console_page_sends_anonymous_users_to_sign_in(client, site):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_console_page_refuses_staff_outside_the_agents_group(client, site):
    user = get_user_model().objects.create_user(username="clerk", is_staff=True)
    client.force_login(user)
    response = client.get("/console/")
    assert response.status_code == 403
    assert b"not an agent" in response.content


def test_the_console_page_serves_agents(client, agent):
    client.force_login(agent)
    response = client.get("/console/")
    assert response.status_code == 200
    assert b'data-socket-path="/ws/console/"' in response.content
    assert b"console/console.js" in response.content


def test_presence_counts_only_present_agents_of_the_team(site, agent, rival_agent):
    from django.utils import timezone

    from apps.handoff.models import Team
    from apps.handoff.selectors import agents_online

    support = Team.objects.get(members=agent)
    assert list(agents_online(team=support, at=timezone.now())) == []
    agent_session_open(user=rival_agent, channel_name="test.wang")
    assert list(agents_online(team=support, at=timezone.now())) == []
    agent_session_open(user=agent, channel_name="test.mei")
    assert list(agents_online(team=support, at=timezone.now())) == [agent]
