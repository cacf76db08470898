"""Nobody online or outside business hours: the visitor leaves a message, the reply finds them."""

from __future__ import annotations

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.chat.models import Conversation, Message, Visitor
from apps.handoff.mail import reply_emails_send_due
from apps.handoff.models import Ticket
from apps.sites.models import BusinessHours
from tests.handoff.sockets import (
    console_socket,
    frame_of,
    frames_with,
    system_texts,
    visitor_socket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

LEAVE = {
    "type": "leave_message",
    "client_id": "c-left-0001",
    "name": "Li Lei",
    "email": "li@example.com",
    "text": "My lamp arrived broken, order 1234.",
}


async def test_nobody_online_offers_the_leave_a_message_form(english, visitor, agent):
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "handoff.unavailable")
    assert {"type": "handoff.ack", "state": "unavailable"} in frames
    assert {"type": "handoff.unavailable", "reason": "nobody_online", "opens_at": None} in frames
    assert system_texts(frames) == [
        "No agent is available right now. Leave a message and we will get back to you."
    ]
    # The bot keeps the conversation meanwhile.
    assert not [f for f in frames if f["type"] == "conversation.status"]
    assert not await Ticket.objects.aexists()
    await widget.disconnect()


async def test_outside_business_hours_says_when_the_team_is_back(english, visitor, agent):
    # Open one hour a week, two days from now: closed at this moment whatever the day.
    day = (timezone.now() + dt.timedelta(days=2)).astimezone(dt.UTC)
    opens = day.replace(hour=10, minute=0, second=0, microsecond=0)
    english.time_zone = "UTC"
    await english.asave()
    await BusinessHours.objects.acreate(
        site=english, weekday=opens.weekday(), opens=dt.time(10), closes=dt.time(11)
    )
    console, _ = await console_socket(agent)  # present, but the site is closed
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    unavailable = await frame_of(widget, "handoff.unavailable")
    assert unavailable["reason"] == "outside_hours"
    assert dt.datetime.fromisoformat(unavailable["opens_at"]) == opens
    await widget.disconnect()
    await console.disconnect()


async def test_a_left_message_opens_a_ticket_and_the_reply_reaches_widget_and_inbox(
    english, visitor, agent, mailoutbox, settings
):
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    await frame_of(widget, "handoff.unavailable")
    await widget.send_json_to(LEAVE)
    frames = await frames_with(widget, "leave_message.ack", "message.new")
    ack = next(f for f in frames if f["type"] == "leave_message.ack")
    left = await Message.objects.aget(pk=ack["id"])
    assert (left.author_kind, left.text, left.client_id) == (
        "visitor",
        LEAVE["text"],
        "c-left-0001",
    )
    ticket = await Ticket.objects.aget(pk=ack["ticket_id"])
    assert (ticket.channel, ticket.status, ticket.reason) == ("message", "new", "customer_request")
    assert (ticket.contact_name, ticket.contact_email) == ("Li Lei", "li@example.com")
    assert ticket.subject == LEAVE["text"]
    visitor_row = await Visitor.objects.aget(pk=visitor.pk)
    assert (visitor_row.name, visitor_row.email) == ("Li Lei", "li@example.com")
    thanks = await frame_of(
        widget, lambda f: f["type"] == "message.new" and f["message"]["author"] == "system"
    )
    assert "li@example.com" in thanks["message"]["text"]

    # The same form sent again (a reconnect) stores nothing new.
    await widget.send_json_to(LEAVE)
    again = await frame_of(widget, "leave_message.ack")
    assert (again["id"], again["ticket_id"]) == (ack["id"], ack["ticket_id"])
    await widget.disconnect()

    # Later an agent comes online, finds the ticket in the queue, claims it and replies.
    console, ready = await console_socket(agent)
    assert [t["id"] for t in ready["tickets"]] == [ticket.pk]
    assert ready["tickets"][0]["channel"] == "message"
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket.pk})
    await frame_of(console, "result")
    await console.send_json_to(
        {"type": "message.send", "ticket_id": ticket.pk, "text": "Sorry! A new lamp ships today."}
    )
    await frame_of(console, "result")
    # Emailed once the reply email is due (tests/handoff/test_reply_email.py): they are away.
    due = timezone.now() + dt.timedelta(seconds=settings.CSBOT_REPLY_EMAIL_DELAY_SECONDS + 1)
    assert await database_sync_to_async(reply_emails_send_due)(now=due) == 1
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["li@example.com"]
    assert email.subject == "Reply from Shop"
    assert "Sorry! A new lamp ships today." in email.body
    assert email.extra_headers["X-Csbot-Ticket"] == str(ticket.pk)

    # The visitor comes back: the reply is in the widget.
    widget, back = await visitor_socket(visitor)
    assert back["conversation"]["status"] == "agent"
    await widget.send_json_to({"type": "resume", "last_seq": left.seq})
    frames = await frames_with(widget, "resumed")
    replies = [
        f["message"]["text"]
        for f in frames
        if f["type"] == "message.new" and f["message"]["author"] == "agent"
    ]
    assert replies == ["Sorry! A new lamp ships today."]
    await widget.disconnect()
    await console.disconnect()


@pytest.mark.parametrize("action", ["ticket.hand_back", "ticket.solve"])
async def test_a_left_message_sent_again_after_its_ticket_ended_opens_nothing_new(
    site, visitor, agent, action
):
    # The ack was lost: the widget keeps the form in its outbox and sends it again on its next
    # visit, by which time an agent answered the ticket and handed it back or solved it.
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(LEAVE)
    first = await frame_of(widget, "leave_message.ack")
    await widget.disconnect()
    console, _ = await console_socket(agent)
    for frame in (
        {"type": "ticket.claim", "ticket_id": first["ticket_id"]},
        {"type": "message.send", "ticket_id": first["ticket_id"], "text": "A new lamp ships."},
        {"type": action, "ticket_id": first["ticket_id"]},
    ):
        await console.send_json_to(frame)
        answer = await frame_of(console, lambda f: f["type"] in ("result", "error"))
        assert (answer["type"], answer["action"]) == ("result", frame["type"]), answer
    stored = await Message.objects.acount()

    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(LEAVE)
    again = await frame_of(widget, "leave_message.ack")
    assert (again["id"], again["seq"], again["ticket_id"]) == (
        first["id"],
        first["seq"],
        first["ticket_id"],
    )
    assert "earlier" not in again  # the widget still shows that conversation, solved or not
    assert await Ticket.objects.acount() == 1
    assert await Message.objects.acount() == stored
    await widget.disconnect()
    await console.disconnect()


async def test_a_message_left_as_an_agent_closes_the_conversation_opens_the_next_one(site, visitor):
    widget, ready = await visitor_socket(visitor)
    # Closed by an agent a moment ago: this socket has not heard of it yet.
    await Conversation.objects.filter(pk=ready["conversation"]["id"]).aupdate(status="closed")
    await widget.send_json_to(LEAVE)
    ack = await frame_of(widget, "leave_message.ack")
    left = await Message.objects.aget(pk=ack["id"])
    assert left.conversation_id != ready["conversation"]["id"]
    assert (await Ticket.objects.aget(pk=ack["ticket_id"])).conversation_id == left.conversation_id
    await widget.disconnect()


async def test_a_second_left_message_with_a_corrected_address_is_answered_there(site, visitor):
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({**LEAVE, "email": "li@exmaple.com"})
    first = await frame_of(widget, "leave_message.ack")
    await widget.send_json_to({**LEAVE, "client_id": "c-left-0002", "email": "li@example.com"})
    second = await frame_of(widget, "leave_message.ack")
    assert second["ticket_id"] == first["ticket_id"]
    ticket = await Ticket.objects.aget(pk=first["ticket_id"])
    assert ticket.contact_email == "li@example.com"
    await widget.disconnect()


async def test_leave_message_needs_an_email(site, visitor):
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({**LEAVE, "email": ""})
    error = await frame_of(widget, "error")
    assert error["code"] == "email_required"
    await widget.send_json_to({**LEAVE, "email": "not-an-email"})
    assert (await frame_of(widget, "error"))["code"] == "bad_frame"
    assert not await Ticket.objects.aexists()
    assert not await Message.objects.aexists()
    await widget.disconnect()


async def test_asking_again_and_again_is_rate_limited_like_messages(english, visitor, settings):
    settings.CSBOT_MESSAGES_PER_MINUTE = 2
    widget, _ = await visitor_socket(visitor)
    for _ in range(2):
        await widget.send_json_to({"type": "handoff.request"})
        await frame_of(widget, "handoff.unavailable")
    await widget.send_json_to({"type": "handoff.request"})
    assert (await frame_of(widget, "error"))["code"] == "rate_limited"
    await widget.send_json_to(LEAVE)
    refused = await frame_of(widget, "error")
    assert (refused["code"], refused["client_id"]) == ("rate_limited", LEAVE["client_id"])
    # The second request got the form back, not the "nobody is available" line again.
    assert await Message.objects.filter(author_kind="system").acount() == 1
    assert not await Ticket.objects.aexists()
    await widget.disconnect()
