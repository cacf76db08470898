"""Every transition of the conversation state machine, seen on both sockets (visitor and agent)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.bot.services import replies_wait
from apps.chat.models import Conversation, ConversationEvent, Message, Visitor
from apps.chat.privacy import visitor_erase
from apps.chat.services import conversation_next, conversation_open
from apps.handoff.details import HandoffDetail
from apps.handoff.models import AgentProfile, HandoffSettings, Ticket
from apps.handoff.services import handoff_request
from tests.handoff.sockets import (
    console_socket,
    frame_of,
    frames_until,
    frames_with,
    system_texts,
    visitor_socket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


def status_frame(frames: list[dict]) -> dict:
    return next(f for f in frames if f["type"] == "conversation.status")


async def waiting_ticket(visitor_ws, console_ws) -> dict:
    """The visitor asks for a human; return the ticket as the console sees it."""
    await visitor_ws.send_json_to({"type": "handoff.request"})
    await frames_with(visitor_ws, "handoff.ack", "conversation.status")
    return (await frame_of(console_ws, "ticket"))["ticket"]


async def claimed_ticket(visitor_ws, console_ws) -> dict:
    ticket = await waiting_ticket(visitor_ws, console_ws)
    await console_ws.send_json_to({"type": "ticket.claim", "ticket_id": ticket["id"], "ref": "c1"})
    # The claim's ticket frame comes through the channel layer, the result straight back: on a
    # loaded machine it can follow the result, and a test would take it for the next change.
    await frames_with(console_ws, "result", "ticket")
    await frame_of(visitor_ws, "conversation.status")
    return ticket


async def test_the_widget_button_queues_the_conversation_and_the_console_hears_of_it(
    english, visitor, agent
):
    console, ready = await console_socket(agent)
    assert ready["tickets"] == []
    widget, _ = await visitor_socket(visitor)

    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "conversation.status")
    assert {"type": "handoff.ack", "state": "waiting"} in frames
    assert status_frame(frames) == {
        "type": "conversation.status",
        "status": "waiting",
        "reason": "customer_request",
    }
    assert system_texts(frames) == ["An agent will join shortly."]

    ticket = (await frame_of(console, "ticket"))["ticket"]
    assert (ticket["status"], ticket["reason"], ticket["assignee"]) == (
        "new",
        "customer_request",
        None,
    )
    assert ticket["team"]["name"] == "Support"
    event = await ConversationEvent.objects.aget(kind="handoff.requested")
    assert event.data == {
        "reason": "customer_request",
        "detail": "asked in the widget",
        "detail_code": "widget_button",
        "detail_values": {},
        "by": "visitor",
        "ticket": ticket["id"],
    }
    await widget.disconnect()
    await console.disconnect()


async def test_asking_for_a_human_in_words_hands_over_instead_of_answering(
    site, visitor, agent, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.gated"
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "转人工"})
    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames)["reason"] == "customer_request"
    assert system_texts(frames) == ["正在为您转接人工客服，请稍候。"]
    ticket = (await frame_of(console, "ticket"))["ticket"]
    assert (ticket["subject"], ticket["detail"]) == ("转人工", "keyword: 转人工")
    assert (ticket["detail_code"], ticket["detail_values"]) == ("keyword", {"phrase": "转人工"})
    await replies_wait()
    assert not await Message.objects.filter(author_kind="bot").aexists()
    await widget.disconnect()
    await console.disconnect()


async def test_strong_frustration_hands_over_with_high_priority(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000001", "text": "This is useless!!"}
    )
    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames)["reason"] == "negative_sentiment"
    ticket = (await frame_of(console, "ticket"))["ticket"]
    assert (ticket["reason"], ticket["priority"]) == ("negative_sentiment", "high")
    await widget.disconnect()
    await console.disconnect()


async def test_the_pipeline_hands_over_with_its_reason(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, ready = await visitor_socket(visitor)
    outcome = await database_sync_to_async(handoff_request)(
        conversation_id=ready["conversation"]["id"],
        reason="missing_knowledge",
        detail=HandoffDetail("unanswered", {"count": 1}),
    )
    assert outcome.state == "waiting"
    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames)["reason"] == "missing_knowledge"
    ticket = (await frame_of(console, "ticket"))["ticket"]
    assert (ticket["reason"], ticket["detail"], ticket["detail_values"]) == (
        "missing_knowledge",
        "1 question(s) in a row without a grounded answer",
        {"count": 1},
    )
    again = await database_sync_to_async(handoff_request)(
        conversation_id=ready["conversation"]["id"], reason="repeated_failure"
    )
    assert (again.state, again.ticket_id) == ("unchanged", ticket["id"])
    assert await Ticket.objects.acount() == 1
    await widget.disconnect()
    await console.disconnect()


async def test_claiming_puts_the_agent_in_the_conversation(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await waiting_ticket(widget, console)

    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket["id"], "ref": "r1"})
    result = await frame_of(console, "result")
    assert result == {
        "type": "result",
        "ref": "r1",
        "action": "ticket.claim",
        "ticket_id": ticket["id"],
    }
    updated = (await frame_of(console, "ticket"))["ticket"]
    assert (updated["status"], updated["assignee"]["name"]) == ("open", "Mei")

    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames) == {
        "type": "conversation.status",
        "status": "agent",
        "reason": "claim",
    }
    assert system_texts(frames) == ["Mei from Support joined the conversation."]
    await widget.disconnect()
    await console.disconnect()


async def test_messages_and_typing_flow_both_ways_once_claimed(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)

    await console.send_json_to({"type": "typing", "ticket_id": ticket["id"], "active": True})
    assert await frame_of(widget, "typing") == {
        "type": "typing",
        "author": "agent",
        "name": "Mei",
        "active": True,
    }
    await console.send_json_to(
        {"type": "message.send", "ticket_id": ticket["id"], "text": "Hi, this is Mei.", "ref": "m"}
    )
    sent = await frame_of(console, "result")
    shown = await frame_of(widget, "message.new")
    assert shown["message"]["id"] == sent["message_id"]
    assert (shown["message"]["author"], shown["message"]["author_name"]) == ("agent", "Mei")
    assert shown["message"]["text"] == "Hi, this is Mei."

    await widget.send_json_to({"type": "typing", "active": True})
    typing = await frame_of(console, "typing")
    assert (typing["author"], typing["conversation_id"]) == ("visitor", ticket["conversation_id"])
    # A client repeating itself faster than the widget's 3 s is relayed once; stopping at once.
    for _ in range(20):
        await widget.send_json_to({"type": "typing", "active": True})
    await widget.send_json_to({"type": "typing", "active": False})
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000002", "text": "My order is late"}
    )
    frames = await frames_until(
        console, lambda f: f["type"] == "message.new" and f["message"]["author"] == "visitor"
    )
    assert [f["active"] for f in frames if f["type"] == "typing"] == [False]
    heard = frames[-1]
    assert heard["conversation_id"] == ticket["conversation_id"]
    assert heard["message"]["text"] == "My order is late"
    await replies_wait()
    # The conversation is the agent's: the bot said nothing.
    assert not await Message.objects.filter(author_kind="bot").aexists()
    stored = await Ticket.objects.aget(pk=ticket["id"])
    assert stored.first_responded_at is not None
    await widget.disconnect()
    await console.disconnect()


async def test_hand_back_returns_the_conversation_to_the_bot_which_answers_again(
    english, visitor, agent, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.gated"
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)

    await console.send_json_to({"type": "ticket.hand_back", "ticket_id": ticket["id"]})
    await frame_of(console, "result")
    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames)["status"] == "bot"
    assert status_frame(frames)["reason"] == "hand_back"
    assert system_texts(frames) == ["You are chatting with the assistant again."]
    solved = (await frame_of(console, lambda f: f["type"] == "ticket"))["ticket"]
    assert solved["status"] == "solved"

    await widget.send_json_to({"type": "message.send", "client_id": "c-00000003", "text": "Thanks"})
    done = await frame_of(widget, "message.done")
    assert done["message"]["text"] == "The bot would have said this."
    await widget.disconnect()
    await console.disconnect()


async def test_solving_closes_the_conversation_and_the_next_message_starts_a_new_one(
    english, visitor, agent, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.gated"
    console, _ = await console_socket(agent)
    widget, ready = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)

    await console.send_json_to({"type": "ticket.solve", "ticket_id": ticket["id"]})
    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames) == {
        "type": "conversation.status",
        "status": "closed",
        "reason": "solved",
    }
    assert system_texts(frames) == [
        "This conversation has been closed. Send a message to start a new one."
    ]
    assert (await Ticket.objects.aget(pk=ticket["id"])).status == "solved"

    await widget.send_json_to({"type": "message.send", "client_id": "c-00000009", "text": "Hi"})
    fresh = await frame_of(widget, "conversation.new")
    assert fresh["conversation"]["id"] != ready["conversation"]["id"]
    assert fresh["conversation"]["status"] == "bot"
    ack = await frame_of(widget, "message.ack")
    stored = await Message.objects.aget(pk=ack["id"])
    assert (stored.conversation_id, stored.seq) == (fresh["conversation"]["id"], 1)
    # The new conversation is the bot's, not a loop back into the queue.
    await frame_of(widget, "message.done")
    assert await Ticket.objects.acount() == 1
    await widget.disconnect()
    await console.disconnect()


async def test_after_closing_a_second_tab_goes_on_in_the_conversation_the_first_began(
    english, visitor, agent, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.gated"
    console, _ = await console_socket(agent)
    first, ready = await visitor_socket(visitor)
    second, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(first, console)
    await console.send_json_to({"type": "ticket.solve", "ticket_id": ticket["id"]})
    await frame_of(first, lambda f: f["type"] == "conversation.status" and f["status"] == "closed")
    await frame_of(second, lambda f: f["type"] == "conversation.status" and f["status"] == "closed")

    await first.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "Hi"})
    begun = (await frame_of(first, "conversation.new"))["conversation"]
    assert begun["id"] != ready["conversation"]["id"]
    moved = (await frame_of(second, "conversation.new"))["conversation"]
    assert moved["id"] == begun["id"]
    shown = await frame_of(
        second, lambda f: f["type"] == "message.new" and f["message"]["author"] == "visitor"
    )
    assert shown["message"]["text"] == "Hi"

    await second.send_json_to({"type": "message.send", "client_id": "c-00000002", "text": "And"})
    frames = await frames_until(second, "message.ack")
    assert "conversation.new" not in [f["type"] for f in frames]
    stored = await Message.objects.aget(pk=frames[-1]["id"])
    assert stored.conversation_id == begun["id"]
    assert await Conversation.objects.filter(visitor=visitor).acount() == 2
    await replies_wait()
    for ws in (first, second, console):
        await ws.disconnect()


def test_a_tab_that_had_not_heard_yet_goes_on_in_the_conversation_begun_in_another(visitor):
    closed = conversation_open(visitor=visitor)
    Conversation.objects.filter(pk=closed.pk).update(status=Conversation.Status.CLOSED)
    begun = conversation_next(visitor=visitor, closed_id=closed.pk)
    assert conversation_next(visitor=visitor, closed_id=closed.pk) == begun
    Conversation.objects.filter(pk=begun.pk).update(status=Conversation.Status.CLOSED)
    assert conversation_next(visitor=visitor, closed_id=closed.pk) not in (closed, begun)


async def test_a_returning_visitor_sees_how_a_closed_conversation_ended(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, ready = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)
    await console.send_json_to({"type": "ticket.close", "ticket_id": ticket["id"]})
    status = await frame_of(widget, "conversation.status")
    assert (status["status"], status["reason"]) == ("closed", "closed")
    await widget.disconnect()

    widget, again = await visitor_socket(visitor)
    assert again["conversation"]["id"] == ready["conversation"]["id"]
    assert again["conversation"]["status"] == "closed"
    await widget.send_json_to({"type": "resume", "last_seq": 0})
    frames = await frames_until(widget, "resumed")
    assert frames[-1] == {"type": "resumed", "status": "closed"}
    assert system_texts(frames)[-1].startswith("This conversation has been closed.")
    await widget.disconnect()
    await console.disconnect()


async def test_transfer_to_a_teammate_introduces_them(english, visitor, agent, teammate):
    console, _ = await console_socket(agent)
    other_console, _ = await console_socket(teammate)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)

    await console.send_json_to(
        {"type": "ticket.transfer", "ticket_id": ticket["id"], "agent_id": teammate.pk}
    )
    await frame_of(console, "result")
    frames = await frames_until(widget, "message.new")
    assert system_texts(frames) == ["Li from Support joined the conversation."]
    moved = await frame_of(
        other_console,
        lambda f: (
            f["type"] == "ticket" and (f["ticket"]["assignee"] or {}).get("id") == teammate.pk
        ),
    )
    assert moved["ticket"]["status"] == "open"
    # The conversation stays with an agent: no status change, so no status frame.
    assert await widget.receive_nothing(timeout=0.05)

    await other_console.send_json_to(
        {"type": "message.send", "ticket_id": ticket["id"], "text": "Li here", "ref": "x"}
    )
    await frame_of(other_console, "result")
    assert (await frame_of(widget, "message.new"))["message"]["author_name"] == "Li"
    await console.send_json_to(
        {"type": "message.send", "ticket_id": ticket["id"], "text": "Mei again", "ref": "y"}
    )
    refused = await frame_of(console, "error")
    assert refused["code"] == "not_assignee"
    for ws in (widget, console, other_console):
        await ws.disconnect()


async def test_transfer_to_another_team_puts_the_conversation_back_in_the_queue(
    english, visitor, agent, rival_agent
):
    console, ready = await console_socket(agent)
    rival_console, _ = await console_socket(rival_agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)
    billing = next(t for t in ready["teams"] if t["name"] == "Billing")

    await console.send_json_to(
        {"type": "ticket.transfer", "ticket_id": ticket["id"], "team_id": billing["id"]}
    )
    assert await frame_of(console, "ticket.removed") == {
        "type": "ticket.removed",
        "ticket_id": ticket["id"],
    }
    frames = await frames_until(widget, "conversation.status")
    assert status_frame(frames)["status"] == "waiting"
    assert system_texts(frames) == [
        "You are being transferred to Billing. An agent will join shortly."
    ]
    arrived = (await frame_of(rival_console, "ticket"))["ticket"]
    assert (arrived["id"], arrived["status"], arrived["assignee"]) == (ticket["id"], "new", None)
    for ws in (widget, console, rival_console):
        await ws.disconnect()


async def test_round_robin_gives_the_ticket_to_the_least_recently_assigned_online_agent(
    english, visitor, other_visitor, agent, teammate, team
):
    await HandoffSettings.objects.acreate(
        site=english, assignment=HandoffSettings.Assignment.ROUND_ROBIN
    )
    mei, _ = await console_socket(agent)
    li, _ = await console_socket(teammate)
    first, _ = await visitor_socket(visitor)
    second, _ = await visitor_socket(other_visitor)

    await first.send_json_to({"type": "handoff.request"})
    assert (await frame_of(first, "handoff.ack"))["state"] == "assigned"
    await second.send_json_to({"type": "handoff.request"})
    assert (await frame_of(second, "handoff.ack"))["state"] == "assigned"

    tickets = [t async for t in Ticket.objects.order_by("pk").select_related("assignee")]
    assert {t.assignee.username for t in tickets} == {"mei", "li"}
    assert all(t.status == "open" for t in tickets)
    conversations = [c async for c in Conversation.objects.order_by("pk")]
    assert [c.status for c in conversations] == ["agent", "agent"]
    for ws in (mei, li, first, second):
        await ws.disconnect()


async def test_round_robin_respects_capacity_and_away(english, visitor, agent, teammate):
    await HandoffSettings.objects.acreate(
        site=english, assignment=HandoffSettings.Assignment.ROUND_ROBIN
    )
    mei, _ = await console_socket(agent)
    li, _ = await console_socket(teammate)
    await li.send_json_to({"type": "presence.set", "availability": "away"})
    await frame_of(li, "result")
    await AgentProfile.objects.filter(user=agent).aupdate(capacity=0)

    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    assert (await frame_of(widget, "handoff.ack"))["state"] == "waiting"
    ticket = await Ticket.objects.aget()
    assert ticket.assignee_id is None

    # Li comes back: the waiting ticket is hers at once.
    await li.send_json_to({"type": "presence.set", "availability": "online"})
    status = await frame_of(
        widget, lambda f: f["type"] == "conversation.status" and f["status"] != "waiting"
    )
    assert (status["status"], status["reason"]) == ("agent", "round_robin")
    await ticket.arefresh_from_db()
    assert ticket.assignee_id == teammate.pk
    for ws in (mei, li, widget):
        await ws.disconnect()


async def test_the_visitors_answer_puts_a_pending_ticket_back_to_open(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)
    await console.send_json_to(
        {"type": "ticket.update", "ticket_id": ticket["id"], "pending": True, "ref": "p"}
    )
    pending = await frame_of(
        console, lambda f: f["type"] == "ticket" and f["ticket"]["status"] == "pending"
    )
    assert pending["ticket"]["id"] == ticket["id"]

    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000003", "text": "Here is my order number"}
    )

    reopened = await frame_of(console, lambda f: f["type"] == "ticket")
    assert (reopened["ticket"]["id"], reopened["ticket"]["status"]) == (ticket["id"], "open")
    await widget.disconnect()
    await console.disconnect()


async def closed_with(ws) -> int:
    while True:
        output = await ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


async def test_erasing_a_visitor_mid_chat_closes_their_socket_and_drops_the_ticket(
    english, visitor, agent
):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)
    await database_sync_to_async(visitor_erase)(visitor=visitor)
    # 4401: the token names nobody now, so the widget starts afresh as a new visitor.
    assert await closed_with(widget) == 4401
    assert await frame_of(console, "ticket.removed") == {
        "type": "ticket.removed",
        "ticket_id": ticket["id"],
    }
    await console.disconnect()


async def test_a_message_from_a_visitor_erased_behind_the_sockets_back_closes_it_cleanly(
    english, visitor
):
    # Deleted without visitor_erase's events (another tool, a lost event): no traceback.
    widget, _ = await visitor_socket(visitor)
    await Visitor.objects.filter(pk=visitor.pk).adelete()
    await widget.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "hi"})
    assert await closed_with(widget) == 4401
    assert not await Message.objects.aexists()
