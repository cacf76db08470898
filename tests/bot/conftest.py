"""Answering-pipeline fixtures: a small bilingual help centre linked to ``site``, the pipeline as
the answerer, no model chain (the offline answerer) unless a test points one at ``provider``."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async

from apps.bot.answer import AnswerEvent, AnswerFinal
from apps.bot.pipeline import answer
from apps.bot.services import reply_run
from apps.chat.models import Conversation, Message, Visitor
from apps.chat.services import conversation_open, message_create_from_visitor
from apps.knowledge.models import Collection, Status
from apps.knowledge.search.engine import indexes_drop
from apps.knowledge.services.content import article_create, collection_create, faq_create
from apps.sites.models import Site
from tests.llm.fixtures import backup, chain, fresh_breaker, llm_clients_closed, provider

__all__ = ["backup", "chain", "fresh_breaker", "llm_clients_closed", "provider"]

SHIPPING_URL = "https://shop.example.com/help/shipping"


@pytest.fixture(autouse=True)
def _pipeline_defaults(settings: object, request: pytest.FixtureRequest) -> None:
    settings.CSBOT_ANSWERER = "apps.bot.pipeline.answer"  # type: ignore[attr-defined]
    # Dense retrieval runs the real embedding model; the demo test turns it on.
    settings.CSBOT_EMBEDDINGS = "off"  # type: ignore[attr-defined]
    # A rolled-back test can hand the next one the same collection ids.
    indexes_drop()
    # No model variable of the machine reaches a test: the offline answerer unless configured.
    request.getfixturevalue("chain")
    request.getfixturevalue("fresh_breaker")
    request.getfixturevalue("llm_clients_closed")


@pytest.fixture
def agent_online(agent: object) -> object:
    """Mei has the console open: a handoff reaches her (else the visitor may leave a message)."""
    from apps.handoff.services.presence import agent_session_open

    agent_session_open(user=agent, channel_name="test.console.mei")
    return agent


@pytest.fixture
def help_centre(site: Site) -> Collection:
    """The shop's help centre: shipping (en, zh), returns (en), two warranty FAQs."""
    collection = collection_create(name="Shop help")
    collection.sites.add(site)
    article_create(
        collection=collection,
        title="Shipping and delivery",
        body=(
            "We ship every order with SF Express.\n\n"
            "## Delivery times\n"
            "Delivery takes 1-2 days to Shanghai and 4-7 days to Xinjiang.\n\n"
            "## Shipping fees\n"
            "Shipping is free on orders of 99 yuan or more; below that it costs 10 yuan."
        ),
        language="en",
        status=Status.PUBLISHED,
        external_id="shipping-en",
        source_url=SHIPPING_URL,
    )
    article_create(
        collection=collection,
        title="配送说明",
        body=(
            "## 配送时效\n上海 1-2 天送达，新疆 4-7 天送达。\n\n"
            "## 运费\n订单满 99 元包邮，不满收取 10 元运费。"
        ),
        language="zh-hans",
        status=Status.PUBLISHED,
        external_id="shipping-zh",
    )
    article_create(
        collection=collection,
        title="Returns and refunds",
        body=(
            "You can return unused items within 30 days of delivery.\n\n"
            "## Refunds\nRefunds reach your Alipay account within 3 working days."
        ),
        language="en",
        status=Status.PUBLISHED,
        external_id="returns-en",
    )
    faq_create(
        collection=collection,
        question="How long is the warranty?",
        alternatives="Is my lamp under warranty?",
        answer="Every lamp has a 2-year warranty from the day it is delivered.",
        language="en",
        status=Status.PUBLISHED,
        external_id="faq-warranty-en",
    )
    faq_create(
        collection=collection,
        question="保修多久？",
        alternatives="台灯坏了能保修吗？",
        answer="所有台灯自签收之日起保修两年。",
        language="zh-hans",
        status=Status.PUBLISHED,
        external_id="faq-warranty-zh",
    )
    return collection


@pytest.fixture
def conversation(visitor: Visitor) -> Conversation:
    return conversation_open(visitor=visitor)


_sent = 0


async def visitor_says(conversation: Conversation, text: str) -> Message:
    """Store a visitor message, as the chat socket does."""
    global _sent
    _sent += 1
    result = await database_sync_to_async(message_create_from_visitor)(
        conversation=conversation, client_id=f"test-{_sent:08d}", text=text
    )
    return result.message


@dataclass
class Turn:
    question: Message
    events: list[AnswerEvent]

    @property
    def final(self) -> AnswerFinal:
        finals = [e for e in self.events if isinstance(e, AnswerFinal)]
        assert len(finals) == 1
        return finals[0]


async def answered(conversation: Conversation, text: str) -> Turn:
    """Ask the pipeline directly and keep every event it yields (nothing is stored but audits)."""
    question = await visitor_says(conversation, text)
    events: list[AnswerEvent] = []
    run = answer(conversation_id=conversation.pk, question_id=question.pk)
    async with aclosing(run) as stream:
        async for event in stream:
            events.append(event)
    return Turn(question, events)


async def replied(conversation: Conversation, text: str) -> Message:
    """Ask as the chat does (``reply_run`` stores the answer); return the question."""
    question = await visitor_says(conversation, text)
    await reply_run(conversation_id=conversation.pk, question_id=question.pk)
    return question
