"""Failover, retries, timeouts and accounting for one generation, written once above the backends.

The rules (docs/models.md explains them for site owners):

* Routes are tried in order; a route whose circuit is open is skipped.
* Before the first token, a retryable error (rate limit, timeout, server, unreadable stream) is
  retried on the same route up to ``max_retries`` times, after the provider's ``Retry-After``
  when it sent one (up to ``RETRY_AFTER_CAP``; longer waits fail over at once) or a jittered
  exponential backoff. Every other error (auth, quota, content filter, context length, a bad
  request) moves straight on to the next route: the same route would answer the same.
* A stream that breaks after its first token (cut, stalled, malformed, ended with an error or a
  content-filter stop) is a failure, not a short answer: the caller gets ``Reset`` and must drop
  the text it showed; the answer is regenerated once, from the next healthy route. Text from two
  attempts is never joined. A second break ends the call as ``interrupted``.
* Every attempt, skipped routes aside, is handed to ``record`` (usage and cost) and to the
  circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from apps.llm.breaker import Breaker
from apps.llm.dialects import backend_for
from apps.llm.routes import Route
from apps.llm.tokens import estimate_input_tokens, estimate_tokens
from apps.llm.types import (
    ChatMessage,
    ChatRequest,
    ErrorKind,
    Finish,
    FinishReason,
    LLMError,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from apps.llm.watchdog import Watchdog

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds. A visitor is waiting: a provider asking for a longer pause is failed over at once.
RETRY_AFTER_CAP = 10.0
BACKOFF_CAP = 8.0
# Failures that say something about the request, not about the route's health.
_NOT_ROUTE_FAILURES: frozenset[ErrorKind] = frozenset({"content_filter", "context_length"})

Outcome = Literal["complete", "interrupted", "failed"]
AttemptStatus = Literal["complete", "error", "broken", "cancelled", "skipped"]


@dataclass(frozen=True, slots=True)
class Reset:
    """Drop the text streamed so far: that stream broke and the answer is being regenerated."""

    route: str
    error_kind: ErrorKind


@dataclass(frozen=True, slots=True)
class Attempt:
    # 1-based order among the call's attempts; 0 for a route skipped with its circuit open.
    number: int
    route: Route
    status: AttemptStatus
    error: LLMError | None = None
    usage: Usage | None = None
    # Seconds from sending the request to the first text, and to the end of the attempt.
    ttft: float | None = None
    latency: float = 0.0

    @property
    def error_kind(self) -> ErrorKind | None:
        return self.error.kind if self.error else None


@dataclass(frozen=True, slots=True)
class Done:
    """The last event of every call. ``text`` is the whole answer when ``complete``, else ""."""

    outcome: Outcome
    text: str
    # The route that produced the answer (complete), or None.
    route: str | None
    error_kind: ErrorKind | None
    finish_reason: FinishReason | None
    usage: Usage
    attempts: tuple[Attempt, ...]
    call_id: uuid.UUID


GatewayEvent = TextDelta | Reset | Done
# Takes each attempt as it ends; must return at once (services.py writes in the background).
Recorder = Callable[[uuid.UUID, Attempt], None]


class _Run:
    """One attempt on one route: the watched stream, and what it produced."""

    def __init__(self, route: Route, request: ChatRequest, number: int) -> None:
        self.route = route
        self.request = request
        self.number = number
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.usage: Usage | None = None
        self.finish: FinishReason | None = None
        self.error: LLMError | None = None
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.ttft: float | None = None

    async def deltas(self) -> AsyncGenerator[TextDelta, None]:
        """Yield the route's text; raise LLMError for any failure, including a bad ending."""
        timeouts = self.route.timeouts
        end = self.started + timeouts.total
        progressed = False
        stream = backend_for(self.route).stream(self.request)
        watchdog = Watchdog()
        async with aclosing(stream):
            try:
                while True:
                    wait = timeouts.between_tokens if progressed else timeouts.first_token
                    deadline = min(self.loop.time() + wait, end)
                    try:
                        event = await watchdog.wait(anext(stream), deadline)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise self._timeout(progressed, deadline >= end) from None
                    progressed = True
                    if type(event) is TextDelta:
                        if self.ttft is None:
                            self.ttft = self.loop.time() - self.started
                        self.text.append(event.text)
                        yield event
                    elif type(event) is ReasoningDelta:
                        self.reasoning.append(event.text)
                    elif type(event) is Usage:
                        self.usage = event
                    elif type(event) is Finish:
                        self.finish = event.reason
            finally:
                watchdog.close()
        if self.finish == "content_filter":
            raise LLMError(
                "content_filter",
                "the provider withheld the answer (content filter)",
                retryable=False,
                provider=self.route.provider,
            )
        if self.finish in (None, "error"):
            raise LLMError("server", "the provider ended the stream with an error", retryable=True)

    def _timeout(self, progressed: bool, total: bool) -> LLMError:
        timeouts = self.route.timeouts
        if total:
            message = f"no complete answer within {timeouts.total:g} s"
        elif progressed:
            message = f"the stream stalled for {timeouts.between_tokens:g} s"
        else:
            message = f"no first token within {timeouts.first_token:g} s"
        return LLMError("timeout", message, retryable=True, provider=self.route.provider)

    def result(self, status: AttemptStatus | None = None) -> Attempt:
        if status is None:
            status = "complete" if self.error is None else "broken" if self.text else "error"
        return Attempt(
            number=self.number,
            route=self.route,
            status=status,
            error=self.error,
            usage=self._usage(),
            ttft=self.ttft,
            latency=self.loop.time() - self.started,
        )

    def _usage(self) -> Usage:
        if self.usage is not None:
            return self.usage
        output = "".join(self.text) + "".join(self.reasoning)
        if not output:
            # Nothing came back, so nothing to count (providers do not bill rejected requests).
            return Usage(0, 0)
        return Usage(estimate_input_tokens(self.request), estimate_tokens(output), estimated=True)


class Gateway:
    def __init__(self, *, breaker: Breaker, record: Recorder, retry_backoff: float) -> None:
        self.breaker = breaker
        self.record = record
        self.retry_backoff = retry_backoff

    async def stream(
        self, routes: Sequence[Route], request: ChatRequest
    ) -> AsyncGenerator[GatewayEvent, None]:
        """Answer ``request`` from the first route that can; end with exactly one Done."""
        call_id = uuid.uuid4()
        attempts: list[Attempt] = []
        regenerating = False
        last_error: LLMError | None = None
        number = 0
        for route in routes:
            if not await self.breaker.allow(route.breaker_key):
                attempts.append(Attempt(0, route, "skipped"))
                continue
            tries = 0
            while True:
                tries += 1
                number += 1
                run = _Run(route, _for_route(request, route), number)
                try:
                    async with aclosing(run.deltas()) as deltas:
                        async for delta in deltas:
                            yield delta
                except LLMError as error:
                    run.error = error
                except (GeneratorExit, asyncio.CancelledError):
                    # The caller went away (visitor left, task cancelled): still account for it.
                    await self._settle(call_id, run.result("cancelled"))
                    raise
                except Exception as exc:
                    # A reply no dialect rule foresaw (say, a chunk of an unheard-of shape) is
                    # this route failing, not the answer: fail over like any protocol error.
                    logger.exception("model route %s sent something unreadable", route.label)
                    run.error = LLMError(
                        "protocol", f"unreadable reply ({type(exc).__name__})", retryable=False
                    )
                attempt = run.result()
                attempts.append(attempt)
                await self._settle(call_id, attempt)
                if run.error is None:
                    yield Done(
                        "complete",
                        "".join(run.text),
                        route.label,
                        None,
                        run.finish,
                        _total(attempts),
                        tuple(attempts),
                        call_id,
                    )
                    return
                last_error = run.error
                if attempt.status == "broken":
                    yield Reset(route.label, run.error.kind)
                    if regenerating:
                        yield self._done("interrupted", last_error, attempts, call_id)
                        return
                    regenerating = True
                    break
                delay = self._retry_delay(run.error, tries, route)
                if delay is None:
                    break
                await asyncio.sleep(delay)
        outcome: Outcome = "interrupted" if regenerating else "failed"
        yield self._done(outcome, last_error, attempts, call_id)

    async def embed(self, route: Route, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` on ``route``, retrying as for chat; raise LLMError when it cannot.

        No failover: vectors of two models cannot be compared, so the index has one model.
        """
        call_id = uuid.uuid4()
        loop = asyncio.get_running_loop()
        tries = 0
        while True:
            if not await self.breaker.allow(route.breaker_key):
                raise LLMError("server", f"{route.label} is unavailable (circuit open)")
            tries += 1
            started = loop.time()
            try:
                result = await _within(route.timeouts.total, backend_for(route).embed(texts))
                if len(result.vectors) != len(texts):
                    raise LLMError(
                        "protocol",
                        f"asked for {len(texts)} embeddings, got {len(result.vectors)}",
                        provider=route.provider,
                    )
            except LLMError as error:
                attempt = Attempt(
                    tries, route, "error", error, Usage(0, 0), None, loop.time() - started
                )
                await self._settle(call_id, attempt)
                delay = self._retry_delay(error, tries, route)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                continue
            latency = loop.time() - started
            await self._settle(
                call_id, Attempt(tries, route, "complete", None, result.usage, None, latency)
            )
            return result.vectors

    async def check(self, route: Route, *, embeddings: bool = False) -> Attempt:
        """Ask ``route`` for one token (or one embedding) and report how it went."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        backend = backend_for(route)
        usage: Usage | None = None
        error: LLMError | None = None
        try:
            if embeddings:
                usage = (await _within(route.timeouts.total, backend.embed(["ping"]))).usage
            else:
                request = ChatRequest(
                    messages=(ChatMessage("user", "ping"),), model=route.model, max_tokens=1
                )
                usage = (await _within(route.timeouts.total, backend.complete(request))).usage
        except LLMError as exc:
            error = exc
        status: AttemptStatus = "complete" if error is None else "error"
        attempt = Attempt(1, route, status, error, usage, None, loop.time() - started)
        await self._settle(uuid.uuid4(), attempt)
        return attempt

    def _retry_delay(self, error: LLMError, tries: int, route: Route) -> float | None:
        """Return how long to wait before asking ``route`` again, or None to move on."""
        if not error.retryable or tries > route.max_retries:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= RETRY_AFTER_CAP else None
        step = min(BACKOFF_CAP, self.retry_backoff * 2 ** (tries - 1))
        return random.uniform(step / 2, step)  # noqa: S311 - jitter, not a secret

    async def _settle(self, call_id: uuid.UUID, attempt: Attempt) -> None:
        key = attempt.route.breaker_key
        if attempt.status == "complete":
            await self.breaker.success(key)
        elif attempt.error is not None:
            logger.warning(
                "model route %s attempt %d %s: %s",
                attempt.route.label,
                attempt.number,
                attempt.status,
                attempt.error,
            )
            if attempt.error.kind not in _NOT_ROUTE_FAILURES:
                await self.breaker.failure(key)
        self.record(call_id, attempt)

    @staticmethod
    def _done(
        outcome: Outcome, error: LLMError | None, attempts: list[Attempt], call_id: uuid.UUID
    ) -> Done:
        kind = error.kind if error else None
        return Done(outcome, "", None, kind, None, _total(attempts), tuple(attempts), call_id)


async def _within(seconds: float, awaitable: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise LLMError("timeout", f"no answer within {seconds:g} s") from None


def _for_route(request: ChatRequest, route: Route) -> ChatRequest:
    limit = min(request.max_tokens or route.max_tokens, route.max_tokens)
    return replace(request, model=route.model, max_tokens=limit)


def _total(attempts: Sequence[Attempt]) -> Usage:
    return sum((a.usage for a in attempts if a.usage), Usage(0, 0))
