"""Circuit breaker per route: opens after N failures, one probe when half-open, shared by Redis."""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings

from apps.llm.breaker import Breaker, MemoryStore, RedisStore, breaker_get
from apps.llm.gateway import Done
from apps.llm.services import chat_stream
from apps.llm.types import ChatMessage, ChatRequest
from tests.llm.provider_replies import openai_error, openai_stream

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


async def test_route_opens_after_consecutive_failures_and_a_success_resets_the_streak():
    breaker = Breaker(MemoryStore(), failures=3, cooldown=60)

    for _ in range(2):
        await breaker.failure("r")
    await breaker.success("r")
    for _ in range(2):
        await breaker.failure("r")
    assert await breaker.allow("r")
    await breaker.failure("r")

    assert not await breaker.allow("r")
    state = await breaker.state("r")
    assert (state.state, state.failures) == ("open", 3)
    assert 59 < state.retry_in <= 60


async def test_after_the_cooldown_exactly_one_caller_probes():
    breaker = Breaker(MemoryStore(), failures=1, cooldown=0.05)
    await breaker.failure("r")
    await asyncio.sleep(0.06)

    assert (await breaker.state("r")).state == "half_open"
    assert [await breaker.allow("r") for _ in range(3)] == [True, False, False]


async def test_failed_probe_opens_the_route_again_and_a_good_one_closes_it():
    breaker = Breaker(MemoryStore(), failures=1, cooldown=0.05)
    await breaker.failure("r")
    await asyncio.sleep(0.06)
    assert await breaker.allow("r")

    await breaker.failure("r")
    assert (await breaker.state("r")).state == "open"
    await asyncio.sleep(0.06)
    assert await breaker.allow("r")
    await breaker.success("r")

    assert (await breaker.state("r")).state == "closed"
    assert await breaker.allow("r")


@needs_redis
async def test_state_is_shared_between_workers_through_redis():
    worker_a = Breaker(RedisStore("csbot-test:llm:breaker:"), failures=2, cooldown=60)
    worker_b = Breaker(RedisStore("csbot-test:llm:breaker:"), failures=2, cooldown=60)

    await worker_a.failure("shared")
    await worker_b.failure("shared")

    assert not await worker_a.allow("shared")
    assert not await worker_b.allow("shared")
    await worker_b.success("shared")
    assert await worker_a.allow("shared")


@needs_redis
def test_the_breaker_uses_redis_when_it_is_configured():
    assert isinstance(breaker_get(failures=5, cooldown=30).store, RedisStore)


async def test_unreachable_redis_fails_open(settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    breaker = Breaker(RedisStore("x:"), failures=1, cooldown=60)

    await breaker.failure("r")

    assert await breaker.allow("r")
    assert (await breaker.state("r")).state == "unknown"


@pytest.mark.django_db(transaction=True)
async def test_gateway_skips_an_open_route_then_probes_it_after_the_cooldown(
    chain, provider, backup
):
    chain(
        ("openai/gpt-test", provider.url),
        ("deepseek/ds-test", backup.url),
        CSBOT_LLM_BREAKER_FAILURES="2",
        CSBOT_LLM_BREAKER_COOLDOWN="0.3",
        CSBOT_LLM_MAX_RETRIES="0",
    )
    request = ChatRequest(messages=(ChatMessage("user", "hi"),))
    provider.reply(openai_error(503), openai_error(503), openai_stream(["Back."]))
    backup.reply(*[openai_stream(["Backup."]) for _ in range(3)])

    async def answer() -> Done:
        events = [event async for event in chat_stream(site_id=None, request=request)]
        return events[-1]

    for _ in range(2):
        assert (await answer()).route == "deepseek/ds-test"
    skipped = await answer()
    assert [a.status for a in skipped.attempts] == ["skipped", "complete"]
    assert len(provider.requests) == 2

    await asyncio.sleep(0.35)
    probed = await answer()

    assert (probed.route, probed.text) == ("openai/gpt-test", "Back.")
    assert len(provider.requests) == 3


async def test_a_failure_then_a_success_in_the_same_call_clears_the_streak():
    breaker = Breaker(MemoryStore(), failures=2, cooldown=60)
    assert await breaker.allow("r")

    await breaker.failure("r")
    await breaker.success("r")
    await breaker.failure("r")

    assert (await breaker.state("r")).failures == 1
