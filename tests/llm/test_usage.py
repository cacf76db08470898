"""Which routes a site uses, what each call cost, and embeddings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.chat.services import conversation_open
from apps.llm.gateway import Done
from apps.llm.models import ModelPrice, ModelProvider, ModelRoute, Purpose, UsageRecord
from apps.llm.selectors import chain_for_site, conversation_usage_totals
from apps.llm.services import chat_stream, embed, usage_flush, usage_link_message
from apps.llm.types import ChatMessage, ChatRequest, LLMError
from tests.llm.provider_replies import embeddings_reply, openai_error, openai_stream

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),))


async def answer(**kwargs) -> Done:
    events = [e async for e in chat_stream(request=REQUEST, **kwargs)]
    await usage_flush()
    return events[-1]


def site_route(site, url: str, *, preset="deepseek", model="deepseek-chat", position=0, **fields):
    provider = ModelProvider.objects.create(
        site=site, preset=preset, base_url=url, api_key="sk-site-key-0123456789"
    )
    return ModelRoute.objects.create(provider=provider, model=model, position=position, **fields)


def test_a_site_with_admin_routes_uses_them_in_position_order(chain, site, other_site):
    chain(("openai/env-model", "http://127.0.0.1:9/v1"))
    site_route(site, "http://127.0.0.1:1/", model="second", position=2)
    site_route(site, "http://127.0.0.1:2/", preset="qwen", model="first", position=1)
    site_route(site, "http://127.0.0.1:3/", model="off", position=0, enabled=False)
    site_route(site, "http://127.0.0.1:4/", model="emb", purpose=Purpose.EMBEDDINGS)

    assert [r.label for r in chain_for_site(site_id=site.pk)] == ["qwen/first", "deepseek/second"]
    assert [r.label for r in chain_for_site(site_id=other_site.pk)] == ["openai/env-model"]


def test_admin_route_carries_its_key_timeouts_and_identity(chain, site):
    row = site_route(site, "", first_token_timeout=7, max_retries=3, max_tokens=300)

    route = chain_for_site(site_id=site.pk)[0]

    assert route.base_url == "https://api.deepseek.com"
    assert (route.api_key, route.route_id) == ("sk-site-key-0123456789", row.pk)
    assert (route.timeouts.first_token, route.max_retries, route.max_tokens) == (7, 3, 300)


async def test_site_routes_answer_and_the_record_points_at_the_route(chain, site, provider):
    chain()
    row = await database_sync_to_async(site_route)(site, provider.url)
    provider.reply(openai_stream(["From ", "the site."]))

    done = await answer(site_id=site.pk)

    assert (done.text, done.route) == ("From the site.", "deepseek/deepseek-chat")
    assert provider.requests[0].headers["authorization"] == "Bearer sk-site-key-0123456789"
    assert provider.requests[0].json()["max_tokens"] == 1024
    record = await database_sync_to_async(UsageRecord.objects.get)()
    assert (record.route_id, record.site_id) == (row.pk, site.pk)


def _price(provider: str, model: str, when, cny: tuple[str, str], usd: tuple[str, str]):
    return ModelPrice.objects.create(
        provider=provider,
        model=model,
        valid_from=when,
        input_cny=Decimal(cny[0]),
        output_cny=Decimal(cny[1]),
        input_usd=Decimal(usd[0]),
        output_usd=Decimal(usd[1]),
    )


async def test_cost_is_charged_at_the_price_in_force_and_kept_when_prices_change(
    chain, provider, visitor
):
    chain(("openai/gpt-test", provider.url))
    conversation = await database_sync_to_async(conversation_open)(visitor=visitor)
    old = await database_sync_to_async(_price)(
        "openai", "gpt-test", timezone.now() - timedelta(days=30), ("1", "2"), ("0.15", "0.6")
    )
    await database_sync_to_async(_price)(
        "openai", "gpt-test", timezone.now() + timedelta(days=30), ("9", "9"), ("9", "9")
    )
    provider.reply(openai_stream(["a"], usage=(1_000_000, 500_000)))

    done = await answer(site_id=None, conversation_id=conversation.pk)

    record = await database_sync_to_async(UsageRecord.objects.get)(call_id=done.call_id)
    assert record.price_id == old.pk
    assert (record.cost_cny, record.cost_usd) == (Decimal("2.000000"), Decimal("0.450000"))
    new = await database_sync_to_async(_price)(
        "openai", "gpt-test", timezone.now(), ("4", "8"), ("1", "1")
    )
    provider.reply(openai_stream(["b"], usage=(1_000_000, 0)))
    await answer(site_id=None, conversation_id=conversation.pk)

    await database_sync_to_async(record.refresh_from_db)()
    assert (record.price_id, record.cost_cny) == (old.pk, Decimal("2.000000"))
    latest = await database_sync_to_async(UsageRecord.objects.latest)("created_at")
    assert (latest.price_id, latest.cost_cny) == (new.pk, Decimal("4.000000"))


async def test_conversation_totals_sum_every_attempt_of_every_call(
    chain, provider, backup, visitor
):
    chain(("openai/gpt-test", provider.url), ("deepseek/ds-test", backup.url))
    conversation = await database_sync_to_async(conversation_open)(visitor=visitor)
    await database_sync_to_async(_price)(
        "deepseek", "ds-test", timezone.now(), ("2", "3"), ("0", "0")
    )
    provider.reply(openai_error(401), openai_stream(["x"], usage=(100, 10)))
    backup.reply(openai_stream(["y"], usage=(200_000, 100_000)))

    await answer(site_id=None, conversation_id=conversation.pk)
    await answer(site_id=None, conversation_id=conversation.pk)
    await answer(site_id=None)

    totals = await database_sync_to_async(conversation_usage_totals)(
        conversation_id=conversation.pk
    )
    assert (totals.calls, totals.attempts) == (2, 3)
    assert (totals.input_tokens, totals.output_tokens) == (200_100, 100_010)
    assert totals.cost_cny == Decimal("0.700000")
    # The refused attempt spent no tokens: it cost nothing, priced or not.
    assert (totals.unpriced, totals.estimated) == (1, False)


async def test_records_can_be_linked_to_the_message_they_produced(chain, provider, visitor):
    from apps.chat.models import Message
    from apps.chat.services import message_create

    chain(("openai/gpt-test", provider.url))
    conversation = await database_sync_to_async(conversation_open)(visitor=visitor)
    provider.reply(openai_stream(["hello"]))
    done = await answer(site_id=None, conversation_id=conversation.pk)
    message = await database_sync_to_async(message_create)(
        conversation_id=conversation.pk, author_kind=Message.AuthorKind.BOT, text=done.text
    )

    linked = await database_sync_to_async(usage_link_message)(
        call_ids=[done.call_id], message_id=message.pk
    )

    assert linked == 1
    record = await database_sync_to_async(UsageRecord.objects.get)()
    assert record.message_id == message.pk


async def test_embed_returns_one_vector_per_text_in_batches_and_records_it(chain, provider):
    chain(
        CSBOT_LLM_EMBEDDINGS="qwen/text-embedding-v4", QWEN_BASE_URL=provider.url, QWEN_API_KEY="k"
    )
    provider.reply(
        embeddings_reply([[float(i), 0.5] for i in range(10)], prompt_tokens=40),
        embeddings_reply([[10.0, 0.5], [11.0, 0.5]], prompt_tokens=8),
    )

    vectors = await embed(texts=[f"text {i}" for i in range(12)])
    await usage_flush()

    assert [v[0] for v in vectors] == [float(i) for i in range(12)]
    assert [len(r.json()["input"]) for r in provider.requests] == [10, 2]
    assert provider.requests[0].path == "/embeddings"
    record = await database_sync_to_async(UsageRecord.objects.get)()
    assert (record.purpose, record.input_tokens, record.outcome) == ("embeddings", 48, "complete")


async def test_embed_without_an_embeddings_model_returns_none(chain):
    chain()

    assert await embed(texts=["anything"]) is None


async def test_embed_failure_raises_after_retrying(chain, provider):
    chain(
        CSBOT_LLM_EMBEDDINGS="openai/text-embedding-3-small",
        OPENAI_BASE_URL=provider.url,
        OPENAI_API_KEY="k",
    )
    provider.reply(openai_error(503), openai_error(503))

    with pytest.raises(LLMError) as caught:
        await embed(texts=["a"])
    await usage_flush()

    assert (caught.value.kind, len(provider.requests)) == ("server", 2)
    outcomes = await database_sync_to_async(list)(
        UsageRecord.objects.values_list("outcome", flat=True)
    )
    assert outcomes == ["error", "error"]


def test_embed_called_from_sync_code_stores_its_usage(chain, provider):
    from asgiref.sync import async_to_sync

    chain(
        CSBOT_LLM_EMBEDDINGS="openai/text-embedding-3-small",
        OPENAI_BASE_URL=provider.url,
        OPENAI_API_KEY="k",
    )
    provider.reply(embeddings_reply([[1.0, 0.0]], prompt_tokens=3))

    assert async_to_sync(embed)(texts=["one"]) == [[1.0, 0.0]]

    assert list(UsageRecord.objects.values_list("purpose", "input_tokens")) == [("embeddings", 3)]
