"""Agent assist: the bot's suggestion reaches only the agent who asked, and is never sent."""

from __future__ import annotations

import pytest

from apps.bot.services import replies_wait
from apps.chat.models import Message
from tests.handoff.answerers import CITATIONS
from tests.handoff.sockets import console_socket, frame_of, frames_with, visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_suggestion_reaches_only_the_agent_who_asked(
    english, visitor, agent, teammate, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.suggestion"
    mei, _ = await console_socket(agent)
    li, _ = await console_socket(teammate)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000001", "text": "I want a human: returns?"}
    )
    await frames_with(widget, "message.ack", "conversation.status")
    ticket = (await frame_of(mei, "ticket"))["ticket"]
    await frame_of(li, "ticket")
    question = await Message.objects.aget(author_kind="visitor")

    await mei.send_json_to({"type": "assist.request", "ticket_id": ticket["id"], "ref": "s1"})
    suggestion = await frame_of(mei, "assist.result")
    assert suggestion == {
        "type": "assist.result",
        "ref": "s1",
        "ticket_id": ticket["id"],
        "question_id": question.pk,
        "text": "Returns are free within 30 days [1].",
        "citations": CITATIONS,
        "complete": True,
    }
    assert not await Message.objects.filter(author_kind__in=["bot", "agent"]).aexists()
    heard = []
    while not await widget.receive_nothing(timeout=0.05):
        heard.append(await widget.receive_json_from())
    assert [f for f in heard if f["type"].startswith("message.")] == []
    assert [f for f in heard if f["type"] == "message.delta"] == []
    li_heard = []
    while not await li.receive_nothing(timeout=0.05):
        li_heard.append((await li.receive_json_from())["type"])
    assert "assist.result" not in li_heard
    for ws in (mei, li, widget):
        await ws.disconnect()


async def test_no_suggestion_before_the_visitor_asked_anything(english, visitor, agent):
    mei, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    ticket = (await frame_of(mei, "ticket"))["ticket"]
    await mei.send_json_to({"type": "assist.request", "ticket_id": ticket["id"]})
    error = await frame_of(mei, "error")
    assert (error["code"], error["action"]) == ("no_question", "assist.request")
    await widget.disconnect()
    await mei.disconnect()


@pytest.mark.parametrize("answer", ["yes", "好的", "ok", "no thanks"])
async def test_a_suggestion_answers_the_last_question_not_a_bare_yes_or_no(
    english, visitor, agent, settings, answer
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.suggestion"
    mei, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000001", "text": "Do you sell lamp shades?"}
    )
    await frame_of(widget, "message.ack")
    await widget.send_json_to({"type": "handoff.request"})
    ticket = (await frame_of(mei, "ticket"))["ticket"]
    # The visitor's answer to the bot's offer of a person, after the handoff.
    await widget.send_json_to({"type": "message.send", "client_id": "c-00000002", "text": answer})
    await frame_of(widget, lambda f: f["type"] == "message.ack" and f["client_id"] == "c-00000002")
    question = await Message.objects.aget(text="Do you sell lamp shades?")

    await mei.send_json_to({"type": "assist.request", "ticket_id": ticket["id"], "ref": "s1"})
    suggestion = await frame_of(mei, "assist.result")
    assert suggestion["question_id"] == question.pk
    for ws in (mei, widget):
        await ws.disconnect()


async def test_no_suggestion_when_the_visitor_only_said_yes_or_no(
    english, visitor, agent, settings
):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.suggestion"
    mei, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    ticket = (await frame_of(mei, "ticket"))["ticket"]
    for n, answer in enumerate(["yes", "no thanks"], start=1):
        client_id = f"c-0000000{n}"
        await widget.send_json_to({"type": "message.send", "client_id": client_id, "text": answer})
        await frame_of(widget, lambda f, c=client_id: f.get("client_id") == c)

    await mei.send_json_to({"type": "assist.request", "ticket_id": ticket["id"], "ref": "s1"})
    error = await frame_of(mei, "error")
    assert (error["code"], error["action"], error["ref"]) == ("no_question", "assist.request", "s1")
    for ws in (mei, widget):
        await ws.disconnect()


async def test_no_suggestion_when_the_knowledge_base_has_nothing_for_the_question(
    english, visitor, agent
):
    # The real pipeline, on a site with no knowledge: it abstains, in words for the visitor.
    mei, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000001", "text": "Do you sell lamp shades?"}
    )
    await frame_of(widget, "message.ack")
    await replies_wait()
    await widget.send_json_to({"type": "handoff.request"})
    ticket = (await frame_of(mei, "ticket"))["ticket"]

    await mei.send_json_to({"type": "assist.request", "ticket_id": ticket["id"], "ref": "s1"})
    error = await frame_of(mei, lambda f: f["type"] in {"error", "assist.result"})
    assert error == {
        "type": "error",
        "code": "no_knowledge",
        "message": "the knowledge base has nothing for this question",
        "ref": "s1",
        "action": "assist.request",
        "ticket_id": ticket["id"],
    }
    for ws in (mei, widget):
        await ws.disconnect()
