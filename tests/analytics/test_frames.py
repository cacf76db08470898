"""Thumbs and CSAT over the visitor's socket: the frames, who may rate what, when CSAT is asked."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.analytics.models import AnswerFeedback, CsatResponse
from apps.analytics.services import RATINGS_PER_MINUTE, outcome_settings_save
from apps.bot.services import replies_wait
from apps.chat.models import Conversation
from apps.handoff.models import Ticket
from apps.handoff.services import ticket_claim, ticket_close, ticket_hand_back, ticket_solve
from tests.handoff.sockets import frame_of, frames_until, visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


async def bot_answer(ws, text: str = "How much is shipping?", client_id: str = "c-00000001"):
    await ws.send_json_to({"type": "message.send", "client_id": client_id, "text": text})
    frame = await frame_of(
        ws,
        lambda f: (
            f["type"] in ("message.new", "message.done")
            and f["message"]["author"] == "bot"
            and f["message"]["state"] != "streaming"
        ),
    )
    await replies_wait()
    return frame["message"]


async def test_a_visitor_rates_an_answer_and_may_change_their_mind(english, visitor):
    ws, _ = await visitor_socket(visitor)
    answer = await bot_answer(ws)

    await ws.send_json_to({"type": "feedback", "message_id": answer["id"], "value": "up"})
    assert await frame_of(ws, "feedback.ack") == {
        "type": "feedback.ack",
        "message_id": answer["id"],
        "value": "up",
    }
    await ws.send_json_to(
        {"type": "feedback", "message_id": answer["id"], "value": "down", "comment": "太慢了"}
    )
    await frame_of(ws, "feedback.ack")

    stored = await AnswerFeedback.objects.aget()
    assert (stored.message_id, stored.value, stored.comment) == (answer["id"], "down", "太慢了")
    conversation = await Conversation.objects.aget(visitor=visitor)
    assert (stored.site_id, stored.conversation_id) == (visitor.site_id, conversation.pk)
    await ws.disconnect()


async def test_a_visitor_cannot_rate_another_visitors_answer(english, visitor, other_visitor):
    theirs, _ = await visitor_socket(other_visitor)
    their_answer = await bot_answer(theirs)
    ws, _ = await visitor_socket(visitor)

    await ws.send_json_to({"type": "feedback", "message_id": their_answer["id"], "value": "down"})
    error = await frame_of(ws, "error")
    assert error["code"] == "unknown_message"
    assert not await AnswerFeedback.objects.aexists()
    await ws.disconnect()
    await theirs.disconnect()


async def test_only_the_bots_answers_can_be_rated(english, visitor):
    ws, _ = await visitor_socket(visitor)
    await bot_answer(ws)
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000002", "text": "ok"})
    ack = await frame_of(ws, "message.ack")
    await replies_wait()
    await ws.send_json_to({"type": "feedback", "message_id": ack["id"], "value": "up"})
    assert (await frame_of(ws, "error"))["code"] == "unknown_message"
    await ws.send_json_to({"type": "feedback", "message_id": 10**9, "value": "up"})
    assert (await frame_of(ws, "error"))["code"] == "unknown_message"
    assert not await AnswerFeedback.objects.aexists()
    await ws.disconnect()


async def test_a_visitor_rating_in_a_loop_is_slowed_down(english, visitor):
    ws, _ = await visitor_socket(visitor)
    answer = await bot_answer(ws)
    for value in ["up", "down"] * (RATINGS_PER_MINUTE // 2):
        await ws.send_json_to({"type": "feedback", "message_id": answer["id"], "value": value})
        await frame_of(ws, "feedback.ack")
    await ws.send_json_to({"type": "feedback", "message_id": answer["id"], "value": "up"})
    assert (await frame_of(ws, "error"))["code"] == "rate_limited"
    assert (await AnswerFeedback.objects.aget()).value == "down"
    await ws.disconnect()


async def handed_over(ws, agent) -> Ticket:
    """The visitor asks for a human and Mei claims the ticket."""
    await ws.send_json_to({"type": "handoff.request"})
    await frame_of(ws, "handoff.ack")
    ticket = await Ticket.objects.aget()
    await database_sync_to_async(ticket_claim)(ticket_id=ticket.pk, agent=agent)
    await frame_of(ws, lambda f: f["type"] == "conversation.status" and f["status"] == "agent")
    return ticket


async def test_the_widget_is_asked_to_rate_once_an_agent_solves_and_the_rating_is_stored(
    english, visitor, present_agent
):
    ws, _ = await visitor_socket(visitor)
    ticket = await handed_over(ws, present_agent)

    await database_sync_to_async(ticket_solve)(ticket_id=ticket.pk, agent=present_agent)
    frames = await frames_until(ws, "csat.request")
    assert {"type": "conversation.status", "status": "closed", "reason": "solved"} in frames
    assert frames[-1] == {"type": "csat.request", "ticket_id": ticket.pk}

    await ws.send_json_to({"type": "csat", "rating": 4, "comment": "Quick and kind."})
    assert await frame_of(ws, "csat.ack") == {
        "type": "csat.ack",
        "ticket_id": ticket.pk,
        "rating": 4,
    }
    await ws.send_json_to({"type": "csat", "rating": 5})
    await frame_of(ws, "csat.ack")
    stored = await CsatResponse.objects.aget()
    assert (stored.ticket_id, stored.rating, stored.comment) == (ticket.pk, 5, "")
    await ws.disconnect()

    # Rated: a returning visitor is not asked again.
    again, _ = await visitor_socket(visitor)
    await again.send_json_to({"type": "resume", "last_seq": 0})
    await frame_of(again, "resumed")
    assert await again.receive_nothing(timeout=0.05)
    await again.disconnect()


async def test_a_visitor_who_left_before_rating_is_asked_when_they_come_back(
    english, visitor, present_agent
):
    ws, _ = await visitor_socket(visitor)
    ticket = await handed_over(ws, present_agent)
    await ws.disconnect()
    await database_sync_to_async(ticket_hand_back)(ticket_id=ticket.pk, agent=present_agent)

    back, _ = await visitor_socket(visitor)
    await back.send_json_to({"type": "resume", "last_seq": 0})
    frames = await frames_until(back, "csat.request")
    assert [f["type"] for f in frames[-2:]] == ["resumed", "csat.request"]
    await back.disconnect()


async def test_handing_back_to_the_bot_asks_for_a_rating_too(english, visitor, present_agent):
    ws, _ = await visitor_socket(visitor)
    ticket = await handed_over(ws, present_agent)
    await database_sync_to_async(ticket_hand_back)(ticket_id=ticket.pk, agent=present_agent)
    frames = await frames_until(ws, "csat.request")
    assert {"type": "conversation.status", "status": "bot", "reason": "hand_back"} in frames
    await ws.disconnect()


async def test_a_ticket_closed_unsolved_is_not_rated(english, visitor, present_agent):
    ws, _ = await visitor_socket(visitor)
    ticket = await handed_over(ws, present_agent)
    await database_sync_to_async(ticket_close)(ticket_id=ticket.pk, agent=present_agent)
    await frame_of(ws, lambda f: f["type"] == "conversation.status" and f["status"] == "closed")
    assert await ws.receive_nothing(timeout=0.05)

    await ws.send_json_to({"type": "csat", "rating": 1})
    assert (await frame_of(ws, "error"))["code"] == "nothing_to_rate"
    assert not await CsatResponse.objects.aexists()
    await ws.disconnect()


async def test_a_site_that_does_not_ask_gets_no_ratings(english, visitor, present_agent):
    await database_sync_to_async(outcome_settings_save)(site=english, csat_enabled=False)
    ws, _ = await visitor_socket(visitor)
    ticket = await handed_over(ws, present_agent)
    await database_sync_to_async(ticket_solve)(ticket_id=ticket.pk, agent=present_agent)
    await frame_of(ws, lambda f: f["type"] == "conversation.status" and f["status"] == "closed")
    assert await ws.receive_nothing(timeout=0.05)

    await ws.send_json_to({"type": "csat", "rating": 5})
    assert (await frame_of(ws, "error"))["code"] == "nothing_to_rate"
    await ws.disconnect()


async def test_another_visitor_cannot_rate_someone_elses_ticket(
    english, visitor, other_visitor, present_agent
):
    ws, _ = await visitor_socket(visitor)
    ticket = await handed_over(ws, present_agent)
    await database_sync_to_async(ticket_solve)(ticket_id=ticket.pk, agent=present_agent)
    await frame_of(ws, "csat.request")

    other, _ = await visitor_socket(other_visitor)
    await other.send_json_to({"type": "csat", "rating": 1})
    assert (await frame_of(other, "error"))["code"] == "nothing_to_rate"
    assert not await CsatResponse.objects.aexists()
    await ws.disconnect()
    await other.disconnect()
