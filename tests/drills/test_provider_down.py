"""Drill: every model route fails; the visitor is told and handed over, without a long wait."""

from __future__ import annotations

import time

import pytest

from apps.bot.texts import text_for as bot_text_for
from apps.chat.models import ConversationEvent, Message
from apps.handoff.models import Ticket
from apps.handoff.texts import text_for
from tests.drills.conftest import MODEL, QUESTION
from tests.handoff.sockets import frames_until, visitor_socket
from tests.llm.loopback import closed_port_url
from tests.llm.provider_replies import openai_error

pytestmark = [pytest.mark.django_db(transaction=True)]

# Far longer than a refused connection or an HTTP 500 takes: waiting for it would show.
FIRST_TOKEN_TIMEOUT = 20.0


async def test_a_chain_of_500s_and_refused_connections_hands_over_within_the_first_token_timeout(
    shop, shopper, chain, provider, fresh_breaker, llm_clients_closed
):
    chain(
        (MODEL, provider.url),
        ("deepseek/deepseek-chat", closed_port_url()),
        CSBOT_LLM_FIRST_TOKEN_TIMEOUT=str(FIRST_TOKEN_TIMEOUT),
    )
    provider.default = openai_error(500, "internal error")
    widget, ready = await visitor_socket(shopper)
    await widget.send_json_to({"type": "resume", "last_seq": 0})
    await frames_until(widget, "resumed")

    asked = time.monotonic()
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-drill-down", "text": QUESTION}
    )
    frames = await frames_until(
        widget, lambda f: f["type"] == "message.new" and f["message"]["author"] == "system"
    )
    frames += await frames_until(widget, "conversation.status")
    waited = time.monotonic() - asked

    # The provider was really tried (and retried: a 500 is retryable), then the dead route.
    assert len(provider.requests) >= 1
    # Its last state: the answer opened streaming while the chain was tried, then the apology.
    answer = [
        f["message"]
        for f in frames
        if f["type"] in {"message.new", "message.done"} and f["message"]["author"] == "bot"
    ][-1]
    assert (answer["text"], answer["state"]) == (bot_text_for("unavailable", "en"), "complete")
    status = next(f for f in frames if f["type"] == "conversation.status")
    assert (status["status"], status["reason"]) == ("waiting", "model_unavailable")
    notice = next(
        f["message"]
        for f in frames
        if f["type"] == "message.new" and f["message"]["author"] == "system"
    )
    assert notice["text"] == text_for("waiting", "en")
    assert not [f for f in frames if f["type"] == "error"]
    # Failures that are immediate never wait for the first-token timeout.
    assert waited < FIRST_TOKEN_TIMEOUT
    ticket = await Ticket.objects.aget(conversation_id=ready["conversation"]["id"])
    assert ticket.reason == "model_unavailable"
    assert await ConversationEvent.objects.filter(kind="handoff.requested").acount() == 1
    assert await Message.objects.filter(author_kind="bot").acount() == 1
    await widget.disconnect()
