"""The model gateway's entry points: generate, embed, check routes, and record what they cost.

The answering pipeline calls ``chat_stream`` and ``embed``; nothing else in csbot talks to a
provider. Both pick the site's routes (``selectors``), run them through the one ``Gateway`` and
store a ``UsageRecord`` per attempt, in the background (``usage.py``; ``usage_flush`` waits).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import aclosing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from channels.db import database_sync_to_async
from django.utils import timezone

from apps.llm.breaker import breaker_get
from apps.llm.config import env_config, offline_route
from apps.llm.gateway import Attempt, Gateway, GatewayEvent, Recorder
from apps.llm.loopbound import LoopBound
from apps.llm.models import ModelPrice, Origin, Purpose, UsageRecord
from apps.llm.routes import Route
from apps.llm.selectors import (
    ConfiguredRoute,
    chain_for_site,
    embedding_route_for_site,
    price_current,
)
from apps.llm.types import ChatRequest, Usage
from apps.llm.usage import UsageEntry, UsageWriter

_MILLION = Decimal(1_000_000)
_COST_PLACES = Decimal("0.000001")


def usage_records_create(*, entries: Sequence[UsageEntry]) -> list[UsageRecord]:
    """Store attempts in one insert, each costed at the price version in force when it ended."""
    prices: dict[tuple[str, str], ModelPrice | None] = {}
    records = []
    for entry in entries:
        attempt, route = entry.attempt, entry.attempt.route
        usage = attempt.usage or Usage(0, 0)
        key = (route.provider, route.model)
        # One lookup per model and batch: a batch spans well under a second.
        if key not in prices:
            prices[key] = price_current(provider=route.provider, model=route.model, at=entry.at)
        cost_cny, cost_usd = _cost(prices[key], usage)
        error = attempt.error
        records.append(
            UsageRecord(
                created_at=entry.at,
                call_id=entry.call_id,
                attempt=attempt.number,
                purpose=entry.purpose,
                origin=entry.origin,
                site_id=entry.site_id,
                conversation_id=entry.conversation_id,
                message_id=entry.message_id,
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
                error_message=error.message if error else "",
                price=prices[key],
                cost_cny=cost_cny,
                cost_usd=cost_usd,
            )
        )
    return UsageRecord.objects.bulk_create(records)


def _cost(price: ModelPrice | None, usage: Usage) -> tuple[Decimal, Decimal]:
    if price is None:
        return Decimal(0), Decimal(0)
    cny = price.input_cny * usage.input_tokens + price.output_cny * usage.output_tokens
    usd = price.input_usd * usage.input_tokens + price.output_usd * usage.output_tokens
    return (cny / _MILLION).quantize(_COST_PLACES), (usd / _MILLION).quantize(_COST_PLACES)


def usage_link_message(*, call_ids: Sequence[uuid.UUID], message_id: int) -> int:
    """Attach calls' records to the message they produced (known only once it was created)."""
    return UsageRecord.objects.filter(call_id__in=call_ids).update(message_id=message_id)


def _gateway(record: Recorder) -> Gateway:
    settings = env_config().gateway
    breaker = breaker_get(failures=settings.breaker_failures, cooldown=settings.breaker_cooldown)
    return Gateway(breaker=breaker, record=record, retry_backoff=settings.retry_backoff)


def _writer_new() -> UsageWriter:
    create = database_sync_to_async(usage_records_create)
    return UsageWriter(lambda entries: create(entries=entries))


async def _writer_flush(writer: UsageWriter) -> None:
    await writer.flush()


_writers = LoopBound(_writer_new, _writer_flush)


async def usage_flush() -> None:
    """Wait until the usage of every call made on this event loop is stored."""
    await _writers.get().flush()


class _RouteCache:
    """A site's routes for a few seconds, looked up once however many calls start together.

    Without it every answer would wait for a database round trip (a thread hop and, under ASGI,
    a new connection) before its request could leave; admin changes apply within ``TTL``.
    """

    TTL = 5.0

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int | None], tuple[float, asyncio.Task[object]]] = {}

    async def chain(self, site_id: int | None) -> tuple[Route, ...]:
        return cast(tuple[Route, ...], await self._get(Purpose.CHAT, site_id))

    async def embeddings(self, site_id: int | None) -> Route | None:
        return cast(Route | None, await self._get(Purpose.EMBEDDINGS, site_id))

    async def _get(self, purpose: str, site_id: int | None) -> object:
        loop = asyncio.get_running_loop()
        entry = self._entries.get((purpose, site_id))
        if entry is None or entry[0] <= loop.time() or _failed(entry[1]):
            select = chain_for_site if purpose == Purpose.CHAT else embedding_route_for_site
            lookup = database_sync_to_async(select)(site_id=site_id)
            entry = (loop.time() + self.TTL, loop.create_task(lookup))
            self._entries[(purpose, site_id)] = entry
        return await asyncio.shield(entry[1])


def _failed(task: asyncio.Task[object]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


_routes = LoopBound(_RouteCache)


_offline_only: ContextVar[bool] = ContextVar("offline_only", default=False)


@contextmanager
def offline_answerer_only() -> Iterator[None]:
    """Within it, chat calls of this context go to the offline answerer whatever the site's
    chain: no model call and no cost (the bot's answer checks, docs/answering.md)."""
    token = _offline_only.set(True)
    try:
        yield
    finally:
        _offline_only.reset(token)


async def chain_get(*, site_id: int | None) -> tuple[Route, ...]:
    """The site's chain as ``chat_stream`` will use it (read at most every ``TTL`` seconds)."""
    if _offline_only.get():
        return (offline_route(),)
    return await _routes.get().chain(site_id)


_origin: ContextVar[str] = ContextVar("usage_origin", default=Origin.VISITOR)


@contextmanager
def usage_origin(origin: Origin) -> Iterator[None]:
    """Within it, this context's model calls are recorded as made for ``origin`` (agent assist,
    the command line), not as visitors' answers: Insights' reliability counts only those."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


def _recorder(
    purpose: str,
    site_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    origin: str | None = None,
) -> Recorder:
    writer = _writers.get()
    origin = origin or _origin.get()

    def record(call_id: uuid.UUID, attempt: Attempt) -> None:
        entry = UsageEntry(
            call_id,
            attempt,
            purpose,
            site_id,
            conversation_id,
            message_id,
            timezone.now(),
            origin,
        )
        writer.submit(entry)

    return record


async def chat_stream(
    *,
    site_id: int | None,
    request: ChatRequest,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> AsyncGenerator[GatewayEvent, None]:
    """Stream an answer through the site's chain: TextDelta…, maybe Reset, then one Done.

    On ``Reset`` drop every TextDelta received so far. ``Done.outcome`` is ``complete`` (the
    answer is ``Done.text``), ``interrupted`` (a stream broke and its regeneration failed too)
    or ``failed`` (no route answered). An empty complete answer from the offline answerer means
    it found nothing to quote. Every attempt is recorded as a UsageRecord.
    """
    routes = await chain_get(site_id=site_id)
    gateway = _gateway(_recorder(Purpose.CHAT, site_id, conversation_id, message_id))
    async with aclosing(gateway.stream(routes, request)) as events:
        async for event in events:
            yield event


async def embed(*, texts: Sequence[str], site_id: int | None = None) -> list[list[float]] | None:
    """Return one vector per text, or None when no embeddings model is configured.

    Raises LLMError when the configured model fails (after its retries). Returns only once the
    call's usage is stored: sync callers reach it through ``async_to_sync``, whose event loop
    may end with the call.
    """
    route = await _routes.get().embeddings(site_id)
    if route is None:
        return None
    if not texts:
        return []
    try:
        return await _gateway(_recorder(Purpose.EMBEDDINGS, site_id)).embed(route, texts)
    finally:
        await usage_flush()


@dataclass(frozen=True, slots=True)
class RouteCheck:
    configured: ConfiguredRoute
    attempt: Attempt


async def routes_check(*, routes: Sequence[ConfiguredRoute]) -> list[RouteCheck]:
    """Ping every route at once with a one-token request; a success closes its circuit."""
    gateway = _gateway(_recorder(Purpose.CHECK, origin=Origin.CHECK))
    attempts = await asyncio.gather(
        *(
            gateway.check(item.route, embeddings=item.purpose == Purpose.EMBEDDINGS)
            for item in routes
        )
    )
    return [RouteCheck(item, attempt) for item, attempt in zip(routes, attempts, strict=True)]
