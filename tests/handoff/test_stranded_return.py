"""A visitor coming back to a waiting conversation nobody can take is offered the form at once."""

from __future__ import annotations

import pytest

from apps.chat.models import Conversation
from tests.handoff.sockets import frame_of, frames_with, system_texts, visitor_socket
from tests.handoff.test_stranded import NOBODY, agent_worker_died, waiting_with

pytestmark = [pytest.mark.django_db(transaction=True)]


async def resumed(widget, last_seq: int = 0) -> dict:
    await widget.send_json_to({"type": "resume", "last_seq": last_seq})
    return (await frames_with(widget, "resumed"))[-1]


async def test_resuming_a_waiting_conversation_nobody_can_take_offers_the_form(
    english, visitor, agent
):
    console, _, widget = await waiting_with(agent, visitor)
    await widget.disconnect()
    await agent_worker_died()

    # A client that only resumes (it never asks again) is covered too.
    widget, ready = await visitor_socket(visitor)
    assert ready["conversation"]["status"] == "waiting"
    assert (await resumed(widget, ready["conversation"]["last_seq"]))["status"] == "bot"
    frames = await frames_with(widget, "conversation.status", "handoff.unavailable")
    assert {"type": "handoff.unavailable", "reason": "nobody_online", "opens_at": None} in frames
    assert system_texts(frames) == [NOBODY]
    assert (await Conversation.objects.aget()).status == Conversation.Status.BOT
    await widget.disconnect()
    await console.disconnect()


async def test_the_widget_asking_again_after_resuming_is_not_a_second_check(
    english, visitor, agent
):
    console, _, widget = await waiting_with(agent, visitor)
    await widget.disconnect()
    widget, ready = await visitor_socket(visitor)
    assert (await resumed(widget, ready["conversation"]["last_seq"]))["status"] == "waiting"
    await agent_worker_died()

    # The widget's own handoff.request after resumed: answered by the check resume made.
    await widget.send_json_to({"type": "handoff.request"})
    assert await frame_of(widget, "handoff.ack") == {"type": "handoff.ack", "state": "unchanged"}
    assert await widget.receive_nothing(timeout=0.1)
    # A later resume on the same socket only replays.
    assert (await resumed(widget, ready["conversation"]["last_seq"]))["status"] == "waiting"
    # Asking again later checks again.
    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "handoff.unavailable")
    assert {"type": "handoff.ack", "state": "unavailable"} in frames
    await widget.disconnect()
    await console.disconnect()


async def test_asking_after_anything_else_checks_again(english, visitor, agent):
    console, _, widget = await waiting_with(agent, visitor)
    await widget.disconnect()
    widget, ready = await visitor_socket(visitor)
    assert (await resumed(widget, ready["conversation"]["last_seq"]))["status"] == "waiting"
    await agent_worker_died()
    await widget.send_json_to({"type": "ping"})
    await frame_of(widget, "pong")
    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_with(widget, "handoff.ack", "handoff.unavailable")
    assert {"type": "handoff.ack", "state": "unavailable"} in frames
    await widget.disconnect()
    await console.disconnect()
