"""Anthropic Messages API: named SSE events, no ``[DONE]``, usage split across two events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from apps.llm.dialects.base import HTTPBackend, usage_or_estimate
from apps.llm.errors import error_from_payload
from apps.llm.sse import sse_events
from apps.llm.types import (
    ChatRequest,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)

API_VERSION = "2023-06-01"
STOP_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


class AnthropicBackend(HTTPBackend):
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.route.api_key, "anthropic-version": API_VERSION}

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": request.model or self.route.model,
            "messages": [
                {"role": m.role, "content": m.content}
                for m in request.messages
                if m.role != "system"
            ],
            # Required by this API, unlike the others.
            "max_tokens": request.max_tokens or self.route.max_tokens,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        input_tokens: int | None = None
        output_tokens: int | None = None
        finish: FinishReason | None = None
        output: list[str] = []
        async with self.open_stream("/messages", self.payload(request)) as response:
            try:
                async for sse in sse_events(response.aiter_lines()):
                    data = self.decode(sse.data)
                    kind = data.get("type") or sse.event
                    if kind == "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            output.append(delta["text"])
                            yield TextDelta(delta["text"])
                        elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                            output.append(delta["thinking"])
                            yield ReasoningDelta(delta["thinking"])
                    elif kind == "message_start":
                        usage = (data.get("message") or {}).get("usage") or {}
                        input_tokens = usage.get("input_tokens", input_tokens)
                    elif kind == "message_delta":
                        usage = data.get("usage") or {}
                        # Cumulative counts: the last one is the total.
                        output_tokens = usage.get("output_tokens", output_tokens)
                        input_tokens = usage.get("input_tokens") or input_tokens
                        reason = (data.get("delta") or {}).get("stop_reason")
                        if reason:
                            finish = STOP_REASONS.get(reason, "stop")
                    elif kind == "message_stop":
                        break
                    elif kind == "error":
                        raise error_from_payload(preset=self.route.preset, data=data)
            except httpx.TransportError:
                # Cut after the stop reason: only message_stop is lost, the answer is whole.
                if finish is None:
                    raise

        if finish is None:
            raise self.malformed("the stream ended before its stop reason")
        reported = None
        if input_tokens is not None and output_tokens is not None:
            reported = Usage(int(input_tokens), int(output_tokens))
        yield usage_or_estimate(reported, request, output)
        yield Finish(finish)
