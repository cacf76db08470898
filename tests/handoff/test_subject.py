"""A ticket's subject is the visitor's question, not their words asking for a person."""

from __future__ import annotations

import pytest

from apps.bot.services import replies_wait
from apps.chat.models import Message
from apps.chat.services import conversation_open
from apps.handoff.selectors import ticket_subject_message
from apps.handoff.triggers import is_bare_request, phrases_parse
from tests.handoff.sockets import console_socket, frame_of, frames_with, visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]

PHRASES = phrases_parse("人工\n转人工\n人工客服\n客服\n真人\nhuman\nagent\nreal person\noperator")


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "转人工",
        "我要人工客服！",
        "Can I speak to a real person please?",
    ],
)
def test_a_request_saying_nothing_else_is_bare(text):
    assert is_bare_request(text, PHRASES)


@pytest.mark.parametrize(
    "text",
    [
        "我的台灯坏了，转人工",
        "My lamp arrived broken, let me talk to an agent",
        "How do I become a sales agent?",
        "Where is my order?",
    ],
)
def test_a_request_with_a_question_in_it_is_not(text):
    assert not is_bare_request(text, PHRASES)


async def said(widget, client_id: str, text: str) -> None:
    await widget.send_json_to({"type": "message.send", "client_id": client_id, "text": text})
    await frame_of(widget, "message.ack")


@pytest.mark.parametrize(
    ("then", "ask"),
    [
        # The words hand over; the question before them is the subject.
        (["I want to talk to a human"], None),
        # A yes to the bot's offer, then the button.
        (["yes please"], {"type": "handoff.request"}),
        # Several requests in a row.
        (["human", "转人工"], None),
    ],
)
async def test_the_subject_is_the_latest_real_question(
    english, visitor, agent, settings, then, ask
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.gated"
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await said(widget, "c-00000001", "Hello")
    await replies_wait()
    await said(widget, "c-00000002", "My lamp arrived broken, what now?")
    await replies_wait()
    for n, text in enumerate(then):
        await said(widget, f"c-1000000{n}", text)
        await replies_wait()
    if ask is not None:
        await widget.send_json_to(ask)
    await frames_with(widget, "conversation.status")
    ticket = (await frame_of(console, "ticket"))["ticket"]
    assert ticket["subject"] == "My lamp arrived broken, what now?"
    await widget.disconnect()
    await console.disconnect()


def test_a_file_sent_without_words_is_not_the_subject(visitor):
    conversation = conversation_open(visitor=visitor)
    for seq, text in enumerate(["My lamp arrived broken, what now?", "", "yes"], start=1):
        # The "" is a screenshot sent alone (its attachment row does not matter here).
        Message.objects.create(
            conversation=conversation, seq=seq, author_kind=Message.AuthorKind.VISITOR, text=text
        )

    subject = ticket_subject_message(conversation_id=conversation.pk, request_phrases=PHRASES)

    assert subject is not None
    assert subject.text == "My lamp arrived broken, what now?"
