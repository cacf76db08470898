"""What every backend shares: ``complete`` built on ``stream``, and the HTTP plumbing.

Dialect modules only map our dataclasses to their JSON and back; opening the request, reading
error bodies and turning transport failures into ``LLMError`` happen here, once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from apps.llm.errors import error_from_response, redact
from apps.llm.http import http_client
from apps.llm.routes import Route
from apps.llm.tokens import estimate_input_tokens, estimate_tokens
from apps.llm.types import (
    ChatRequest,
    Completion,
    Embeddings,
    ErrorKind,
    Finish,
    FinishReason,
    LLMError,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)

# Error bodies are small; a server that streams megabytes of "error" is cut off here.
_ERROR_BODY_LIMIT = 64 * 1024


class BaseBackend:
    """Implements ``complete`` and the no-embeddings default over a subclass's ``stream``."""

    def __init__(self, route: Route) -> None:
        self.route = route

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        raise NotImplementedError

    async def complete(self, request: ChatRequest) -> Completion:
        text: list[str] = []
        reasoning: list[str] = []
        usage = Usage(0, 0, estimated=True)
        reason: FinishReason = "error"
        async for event in self.stream(request):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Finish):
                reason = event.reason
        return Completion("".join(text), "".join(reasoning), usage, reason)

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        raise LLMError(
            "protocol",
            f"{self.route.preset.title} has no embeddings API",
            retryable=False,
            provider=self.route.provider,
        )

    async def aclose(self) -> None:
        """Release what this backend holds: nothing, the per-loop client is shared."""


class HTTPBackend(BaseBackend):
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.route.api_key}"} if self.route.api_key else {}

    def url(self, path: str) -> str:
        return self.route.base_url.rstrip("/") + path

    def _timeout(self) -> httpx.Timeout:
        timeouts = self.route.timeouts
        # The gateway watches first-token and between-token progress itself (keep-alive comments
        # must not count as progress); httpx only bounds the connection and the whole call.
        return httpx.Timeout(timeouts.total, connect=timeouts.connect)

    @asynccontextmanager
    async def open_stream(
        self, path: str, payload: Mapping[str, Any]
    ) -> AsyncIterator[httpx.Response]:
        """POST ``payload`` and yield the streaming response; map every failure to LLMError."""
        try:
            async with http_client().stream(
                "POST",
                self.url(path),
                json=payload,
                headers=self.headers(),
                timeout=self._timeout(),
            ) as response:
                if response.status_code >= 400:
                    raise await self._response_error(response)
                yield response
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    async def post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        async with self.open_stream(path, payload) as response:
            try:
                body = await response.aread()
                return json.loads(body)
            except ValueError:
                raise self.malformed("the response is not JSON") from None

    async def _response_error(self, response: httpx.Response) -> LLMError:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > _ERROR_BODY_LIMIT:
                break
        error = error_from_response(
            preset=self.route.preset,
            status=response.status_code,
            headers=response.headers,
            body=body,
        )
        error.message = redact(error.message, self.route.api_key)
        return error

    def _transport_error(self, exc: httpx.HTTPError) -> LLMError:
        message = redact(f"{type(exc).__name__}: {exc}", self.route.api_key)
        kind: ErrorKind = "timeout" if isinstance(exc, httpx.TimeoutException) else "server"
        return LLMError(kind, message, retryable=True, provider=self.route.provider)

    def malformed(self, message: str) -> LLMError:
        """A reply we cannot read; may be transient (a proxy, a cut), so it may be retried."""
        return LLMError("protocol", message, retryable=True, provider=self.route.provider)

    def decode(self, data: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            raise self.malformed(f"malformed JSON in the stream: {data[:200]!r}") from None


def usage_or_estimate(usage: Usage | None, request: ChatRequest, output: Sequence[str]) -> Usage:
    """Return the provider's usage, or an estimate from the request and the streamed output."""
    if usage is not None:
        return usage
    return Usage(estimate_input_tokens(request), estimate_tokens("".join(output)), estimated=True)
