"""The guard in the pipeline: the visitor's socket never receives a stopped term, and the audit."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from apps.bot.guard import MASK_CHAR
from apps.bot.models import AnswerAudit, GuardEvent, SensitiveTerm
from apps.bot.records import kb_guard_scan
from apps.bot.services import replies_wait
from apps.bot.texts import text_for
from apps.knowledge.models import Article
from apps.knowledge.services.content import article_save
from tests.bot.conftest import answered
from tests.handoff.sockets import frames_until, visitor_socket
from tests.llm.provider_replies import openai_error, openai_stream

pytestmark = [pytest.mark.django_db(transaction=True)]
MODEL = "openai/gpt-4o-mini"
TERM = "秘密配方"


@pytest.fixture
def terms(db: None) -> None:
    SensitiveTerm.objects.create(term=TERM, category="other", action="block")
    SensitiveTerm.objects.create(term="shut up", category="abuse", action="mask")
    SensitiveTerm.objects.create(term="lawsuit", category="other", action="handoff")


async def _chat(visitor, text: str) -> list[dict]:
    """Send ``text`` on the visitor's socket; every frame received until all is quiet again."""
    ws, _ = await visitor_socket(visitor)
    await ws.send_json_to({"type": "message.send", "client_id": "guard-0001", "text": text})
    frames = await frames_until(ws, _answer_ended)
    await replies_wait()
    # A handoff after the answer tells the visitor too (status, system message).
    while not await ws.receive_nothing(timeout=0.05):
        frames.append(await ws.receive_json_from())
    await ws.disconnect()
    return frames


def _answer_ended(frame: dict) -> bool:
    """The bot's answer is done: streamed then finished, or sent whole."""
    message = frame.get("message", {})
    return frame["type"] == "message.done" or (
        frame["type"] == "message.new"
        and message.get("author") == "bot"
        and message.get("state") == "complete"
    )


async def test_a_term_streamed_mid_answer_never_reaches_the_visitor_socket(
    help_centre, site, visitor, chain, provider, terms
):
    chain((MODEL, provider.url))
    # The term arrives split over three chunks, after text the visitor does see.
    tokens = ["Shipping is free from 99 yuan [1]. ", "Our 秘", "密", "配方 is ", "a secret."]
    provider.reply(openai_stream(tokens))
    frames = await _chat(visitor, "Is shipping free on orders of 99 yuan?")
    wire = json.dumps(frames, ensure_ascii=False)
    assert TERM not in wire
    assert "秘密" not in wire
    kinds = [f["type"] for f in frames]
    assert "message.delta" in kinds
    assert kinds.index("message.reset") > kinds.index("message.delta")
    assert frames[-1]["message"]["text"] == text_for("refuse", "en")
    event = await database_sync_to_async(GuardEvent.objects.get)()
    assert (event.source, event.outcome, event.term_text) == ("output", "blocked", TERM)
    assert event.conversation_id is not None
    audit = await database_sync_to_async(AnswerAudit.objects.get)()
    assert (audit.decision, audit.reason) == ("refuse", "guard_output")
    assert audit.guard[0]["term"] == TERM


async def test_a_provider_content_filter_refusal_takes_the_same_path(
    help_centre, site, visitor, chain, provider, agent_online
):
    chain((MODEL, provider.url))
    provider.reply(
        openai_stream(["Shipping is free ", "from 99 yuan [1]. And"], finish="content_filter")
    )
    frames = await _chat(visitor, "Is shipping free on orders of 99 yuan?")
    done = next(f for f in frames if f["type"] == "message.done")
    assert done["message"]["text"] == text_for("refuse_handoff", "en")
    assert "message.reset" in [f["type"] for f in frames]
    assert "conversation.status" in [f["type"] for f in frames] or "handoff.unavailable" in [
        f["type"] for f in frames
    ]
    event = await database_sync_to_async(GuardEvent.objects.get)()
    assert (event.source, event.route) == ("provider", MODEL)
    audit = await database_sync_to_async(AnswerAudit.objects.get)()
    assert (audit.reason, audit.handoff) == ("provider_filter", "content_filter")


async def test_a_refused_request_before_any_text_hands_over(
    help_centre, conversation, chain, provider, agent_online
):
    chain((MODEL, provider.url))
    provider.reply(openai_error(400, "Content Exists Risk", code="content_filter"))
    turn = await answered(conversation, "Is shipping free on orders of 99 yuan?")
    assert turn.final.text == text_for("refuse_handoff", "en")
    audit = await database_sync_to_async(AnswerAudit.objects.get)()
    assert (audit.decision, audit.reason) == ("refuse", "provider_filter")


async def test_a_blocked_question_is_refused_without_searching_or_calling_a_model(
    help_centre, conversation, chain, provider, terms
):
    chain((MODEL, provider.url))
    turn = await answered(conversation, "告诉我你们的秘 密 配 方")
    assert provider.requests == []
    assert turn.final.text == text_for("refuse", "zh-hans")
    event = await database_sync_to_async(GuardEvent.objects.get)()
    assert (event.source, event.outcome, event.message_id) == ("input", "blocked", turn.question.pk)


async def test_a_hand_off_term_in_the_question_calls_a_person(
    help_centre, conversation, chain, provider, terms, agent_online
):
    chain((MODEL, provider.url))
    turn = await answered(conversation, "I will file a lawsuit about my refund")
    assert turn.final.text == text_for("refuse_handoff", "en")
    audit = await database_sync_to_async(AnswerAudit.objects.get)()
    assert audit.handoff == "content_filter"


async def test_mask_terms_are_masked_in_the_answer(
    help_centre, conversation, chain, provider, terms
):
    chain((MODEL, provider.url))
    provider.reply(openai_stream(["Shipping is free from 99 yuan [1], so shut ", "up about it."]))
    turn = await answered(conversation, "Is shipping free on orders of 99 yuan?")
    assert (
        turn.final.text
        == f"Shipping is free from 99 yuan [1], so {MASK_CHAR * 4} {MASK_CHAR * 2} about it."
    )
    shown = "".join(getattr(e, "text", "") for e in turn.events[:-1])
    assert "shut" not in shown


async def test_a_passage_with_a_blocked_term_never_reaches_the_prompt(
    help_centre, conversation, chain, provider, terms
):
    article = await database_sync_to_async(Article.objects.get)(external_id="returns-en")
    article.body = article.body.replace("3 working days.", f"3 working days. {TERM}: rub twice.")
    await database_sync_to_async(article_save)(article=article)
    chain((MODEL, provider.url))
    turn = await answered(conversation, "How long do refunds take to reach Alipay?")
    assert all(TERM not in r.body.decode() for r in provider.requests)
    event = await database_sync_to_async(GuardEvent.objects.get)()
    assert (event.source, event.outcome, event.article_id) == ("knowledge", "excluded", article.pk)
    assert turn.final.citations == []


def test_the_knowledge_scan_flags_each_entry_and_term_once(help_centre, terms):
    article = Article.objects.get(external_id="returns-en")
    article.body += f"\n\nAsk about our {TERM}."
    article_save(article=article)
    first = kb_guard_scan()
    again = kb_guard_scan(collection_ids=[help_centre.pk])
    assert (first.flagged, again.flagged) == (1, 0)
    assert first.entries == 5
    flag = GuardEvent.objects.get()
    assert (flag.source, flag.outcome, flag.article_id) == ("knowledge", "flagged", article.pk)
    assert TERM in flag.excerpt
