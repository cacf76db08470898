"""Drill: the ASGI worker streaming an answer is killed; the visitor carries on on the other one."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from apps.chat.models import Conversation, ConversationEvent, Message
from apps.handoff.models import Ticket
from apps.handoff.texts import text_for
from tests.conftest import token_for
from tests.drills.conftest import QUESTION, SITE_ORIGIN, model_env, receive_until, socket_url
from tests.llm.loopback import Pause
from tests.llm.provider_replies import openai_stream
from tests.workers import asgi_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

# Long enough to outlive the kill: a token every 150 ms for about 6 s.
ANSWER = ["Refunds reach ", "your Alipay ", "account in 3 working days [1]. "] + ["More. "] * 40


def handed_over(frames: list[dict], bot_seq: int) -> bool:
    """The visitor was shown the answer closed, the status ``waiting`` and the system notice."""
    answer = [
        f["message"]["state"]
        for f in frames
        if f["type"] in {"message.new", "message.done"} and f["message"]["seq"] == bot_seq
    ]
    status = [f["status"] for f in frames if f["type"] in {"resumed", "conversation.status"}]
    notice = [
        f for f in frames if f["type"] == "message.new" and f["message"]["author"] == "system"
    ]
    return answer[-1:] == ["interrupted"] and status[-1:] == ["waiting"] and bool(notice)


def test_a_killed_workers_answer_ends_interrupted_and_handed_over_on_the_other_worker(
    shop, shopper, model
):
    model.reply(openai_stream(ANSWER, between=Pause(0.15)))
    token = token_for(shopper)

    async def scenario(first, second) -> tuple[list[dict], list[dict]]:
        on_first: list[dict] = []
        on_second: list[dict] = []
        async with connect(socket_url(first.ws_url, shop), origin=SITE_ORIGIN) as ws:
            await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
            await receive_until(ws, lambda f: f["type"] == "ready", on_first)
            await ws.send(json.dumps({"type": "resume", "last_seq": 0}))
            await receive_until(ws, lambda f: f["type"] == "resumed", on_first)
            await ws.send(
                json.dumps({"type": "message.send", "client_id": "c-drill-kill", "text": QUESTION})
            )
            await receive_until(ws, lambda f: f["type"] == "message.ack", on_first)
            deltas = 0
            while deltas < 3:
                frame = await receive_until(ws, lambda f: f["type"] == "message.delta", on_first)
                deltas += 1
            first.process.send_signal(signal.SIGKILL)
            with pytest.raises(ConnectionClosed):
                await receive_until(ws, lambda f: False, on_first)
        bot_seq = frame["seq"]

        async with connect(socket_url(second.ws_url, shop), origin=SITE_ORIGIN) as ws:
            await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
            await receive_until(ws, lambda f: f["type"] == "ready", on_second)
            # As the widget does: resume from below the answer that was streaming.
            await ws.send(json.dumps({"type": "resume", "last_seq": bot_seq - 1}))
            await receive_until(ws, lambda f: f["type"] == "resumed", on_second)
            # The widget resends what it holds unacknowledged; an acknowledged resend is harmless.
            await ws.send(
                json.dumps({"type": "message.send", "client_id": "c-drill-kill", "text": QUESTION})
            )
            await receive_until(ws, lambda f: f["type"] == "message.ack", on_second)
            # The surviving worker's sweep may have closed the answer before the resume (it is
            # replayed closed) or after (message.done and the status change arrive live).
            await receive_until(ws, lambda f: handed_over(on_second, bot_seq), on_second)
        return on_first, on_second

    with asgi_workers(2, **model_env(model.url, CSBOT_REPLY_LEASE_SECONDS="1")) as workers:
        _, on_second = asyncio.run(scenario(*workers))

    conversation = Conversation.objects.get(visitor=shopper)
    messages = list(conversation.messages.order_by("seq"))
    # Every stored message once, seqs without gaps: question, the interrupted answer, the notice.
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    assert [(m.author_kind, m.state) for m in messages] == [
        ("visitor", "complete"),
        ("bot", "interrupted"),
        ("system", "complete"),
    ]
    question, answer, notice = messages
    assert (question.client_id, question.text) == ("c-drill-kill", QUESTION)
    assert notice.text == text_for("waiting", "en")
    # What the last heartbeat saved: the start of the answer, and what the visitor is shown.
    assert answer.text
    assert "".join(ANSWER).startswith(answer.text)
    shown = [
        f["message"]
        for f in on_second
        if f["type"] in {"message.new", "message.done"} and f["message"]["seq"] == answer.seq
    ]
    assert (shown[-1]["state"], shown[-1]["text"]) == ("interrupted", answer.text)
    # Handed over once, for this reason, although both the visitor's resume and the surviving
    # worker's sweep may have found the dead answer.
    ticket = Ticket.objects.get(conversation=conversation)
    assert ticket.reason == "interrupted"
    assert conversation.status == "waiting"
    requested = ConversationEvent.objects.filter(
        conversation=conversation, kind="handoff.requested"
    )
    assert [event.data["reason"] for event in requested] == ["interrupted"]
    # The resend was recognised; no frame announced any seq twice on the second socket.
    ack = next(f for f in on_second if f["type"] == "message.ack")
    assert (ack["id"], ack["duplicate"]) == (question.pk, True)
    announced = [f["message"]["seq"] for f in on_second if f["type"] == "message.new"]
    assert len(announced) == len(set(announced))
    assert Message.objects.filter(conversation=conversation, author_kind="bot").count() == 1
