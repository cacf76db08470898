"""Asking for a person again with a ticket open and nobody online: no second form."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.chat.models import ConversationEvent, Message
from apps.handoff.models import Ticket
from tests.handoff.sockets import (
    console_socket,
    frame_of,
    frames_until,
    frames_with,
    system_texts,
    visitor_socket,
)
from tests.handoff.test_offline import LEAVE

pytestmark = [pytest.mark.django_db(transaction=True)]


def from_the_system(frame: dict) -> bool:
    return frame["type"] == "message.new" and frame["message"]["author"] == "system"


async def unavailable_events() -> int:
    return await ConversationEvent.objects.filter(kind="handoff.unavailable").acount()


async def left_a_message(widget) -> int:
    """Nobody online: the form, and a message left on a new ticket; its id."""
    await widget.send_json_to({"type": "handoff.request"})
    await frame_of(widget, "handoff.unavailable")
    await widget.send_json_to(LEAVE)
    ack = await frame_of(widget, "leave_message.ack")
    await frame_of(widget, from_the_system)
    return ack["ticket_id"]


async def test_asking_again_after_a_left_message_says_the_team_has_it(
    english, visitor, agent, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.suggestion"
    widget, _ = await visitor_socket(visitor)
    ticket_id = await left_a_message(widget)

    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "message.new")
    assert {"type": "handoff.ack", "state": "unchanged"} in frames
    assert system_texts(frames) == [
        "Our team already has your message and will reply here and by email to li@example.com. "
        "If you have something to add, write it here and it goes to them with your message."
    ]
    # No second form: no handoff.unavailable, nothing recorded as unavailable again.
    assert await widget.receive_nothing(timeout=0.2)
    assert await unavailable_events() == 1

    # What they add joins the same ticket: the agent sees it there.
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-more-0001", "text": "It is the blue lamp."}
    )
    await frame_of(widget, "message.ack")
    await widget.disconnect()
    assert await Ticket.objects.acount() == 1
    console, _ = await console_socket(agent)
    await console.send_json_to({"type": "ticket.open", "ticket_id": ticket_id})
    detail = await frame_of(console, "ticket.detail")
    texts = [m["text"] for m in detail["messages"] if m["author"] == "visitor"]
    assert texts[-2:] == [LEAVE["text"], "It is the blue lamp."]
    await console.disconnect()


async def test_words_asking_again_in_chinese_get_the_line_without_an_email(site, visitor, agent):
    # A chat ticket whose agents all went offline: replies come in the chat only.
    widget, _ = await visitor_socket(visitor)
    conversation_id = (await database_sync_to_async(lambda: visitor.conversations.get())()).pk
    await Ticket.objects.acreate(
        site=site,
        conversation_id=conversation_id,
        visitor=visitor,
        reason=Ticket.Reason.CUSTOMER_REQUEST,
        contact_email="old@example.com",
    )
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-human-001", "text": "转人工"}
    )
    frames = await frames_until(widget, from_the_system)
    assert system_texts(frames) == [
        "我们的客服团队已收到您的留言，会在这里回复您。"
        "如需补充，请直接在这里输入，会与您的留言一并转给客服。"
    ]
    # The bot does not answer the words that asked for a person.
    assert await widget.receive_nothing(timeout=0.2)
    assert not await Message.objects.filter(author_kind=Message.AuthorKind.BOT).aexists()
    assert await unavailable_events() == 0
    await widget.disconnect()
