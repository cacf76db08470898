"""The model gateway's entry points: generate, embed, check routes, and record what they cost.

The answering pipeline calls ``chat_stream`` and ``embed``; nothing else in csbot talks to a
provider. Both pick the site's routes (``selectors``), run them through the one ``Gateway`` and
write a ``UsageRecord`` per attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from decimal import Decimal

from channels.db import database_sync_to_async

from apps.llm.breaker import breaker_get
from apps.llm.config import env_config
from apps.llm.gateway import Attempt, Gateway, GatewayEvent, Recorder
from apps.llm.models import ModelPrice, Purpose, UsageRecord
from apps.llm.selectors import (
    ConfiguredRoute,
    chain_for_site,
    embedding_route_for_site,
    price_current,
)
from apps.llm.types import ChatRequest, Usage

_MILLION = Decimal(1_000_000)
_COST_PLACES = Decimal("0.000001")


def usage_record_create(
    *,
    call_id: uuid.UUID,
    attempt: Attempt,
    purpose: str,
    site_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> UsageRecord:
    """Store one attempt, costed at the price version in force now."""
    route = attempt.route
    usage = attempt.usage or Usage(0, 0)
    price = price_current(provider=route.provider, model=route.model)
    cost_cny, cost_usd = _cost(price, usage)
    error = attempt.error
    return UsageRecord.objects.create(
        call_id=call_id,
        attempt=attempt.number,
        purpose=purpose,
        site_id=site_id,
        conversation_id=conversation_id,
        message_id=message_id,
        route_id=route.route_id,
        provider=route.provider,
        model=route.model[:200],
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        tokens_estimated=usage.estimated,
        ttft_ms=None if attempt.ttft is None else round(attempt.ttft * 1000),
        latency_ms=round(attempt.latency * 1000),
        outcome=attempt.status,
        error_kind=error.kind if error else "",
        http_status=error.status if error else None,
        price=price,
        cost_cny=cost_cny,
        cost_usd=cost_usd,
    )


def _cost(price: ModelPrice | None, usage: Usage) -> tuple[Decimal, Decimal]:
    if price is None:
        return Decimal(0), Decimal(0)
    cny = price.input_cny * usage.input_tokens + price.output_cny * usage.output_tokens
    usd = price.input_usd * usage.input_tokens + price.output_usd * usage.output_tokens
    return (cny / _MILLION).quantize(_COST_PLACES), (usd / _MILLION).quantize(_COST_PLACES)


def usage_link_message(*, call_id: uuid.UUID, message_id: int) -> int:
    """Attach a call's records to the message it produced (known only once it was created)."""
    return UsageRecord.objects.filter(call_id=call_id).update(message_id=message_id)


def _gateway(record: Recorder) -> Gateway:
    settings = env_config().gateway
    breaker = breaker_get(failures=settings.breaker_failures, cooldown=settings.breaker_cooldown)
    return Gateway(breaker=breaker, record=record, retry_backoff=settings.retry_backoff)


def _recorder(
    purpose: str,
    site_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> Recorder:
    create = database_sync_to_async(usage_record_create)

    async def record(call_id: uuid.UUID, attempt: Attempt) -> None:
        await create(
            call_id=call_id,
            attempt=attempt,
            purpose=purpose,
            site_id=site_id,
            conversation_id=conversation_id,
            message_id=message_id,
        )

    return record


async def chat_stream(
    *,
    site_id: int | None,
    request: ChatRequest,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> AsyncIterator[GatewayEvent]:
    """Stream an answer through the site's chain: TextDelta…, maybe Reset, then one Done.

    On ``Reset`` drop every TextDelta received so far. ``Done.outcome`` is ``complete`` (the
    answer is ``Done.text``), ``interrupted`` (a stream broke and its regeneration failed too)
    or ``failed`` (no route answered). An empty complete answer from the offline answerer means
    it found nothing to quote. Every attempt is recorded as a UsageRecord.
    """
    routes = await database_sync_to_async(chain_for_site)(site_id=site_id)
    gateway = _gateway(_recorder(Purpose.CHAT, site_id, conversation_id, message_id))
    async with aclosing(gateway.stream(routes, request)) as events:
        async for event in events:
            yield event


async def embed(*, texts: Sequence[str], site_id: int | None = None) -> list[list[float]] | None:
    """Return one vector per text, or None when no embeddings model is configured.

    Raises LLMError when the configured model fails (after its retries).
    """
    route = await database_sync_to_async(embedding_route_for_site)(site_id=site_id)
    if route is None:
        return None
    if not texts:
        return []
    return await _gateway(_recorder(Purpose.EMBEDDINGS, site_id)).embed(route, texts)


@dataclass(frozen=True, slots=True)
class RouteCheck:
    configured: ConfiguredRoute
    attempt: Attempt


async def routes_check(*, routes: Sequence[ConfiguredRoute]) -> list[RouteCheck]:
    """Ping every route at once with a one-token request; a success closes its circuit."""
    gateway = _gateway(_recorder(Purpose.CHECK))
    attempts = await asyncio.gather(
        *(
            gateway.check(item.route, embeddings=item.purpose == Purpose.EMBEDDINGS)
            for item in routes
        )
    )
    return [RouteCheck(item, attempt) for item, attempt in zip(routes, attempts, strict=True)]
