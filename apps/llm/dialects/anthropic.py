"""Anthropic Messages API: named SSE events, no ``[DONE]``, usage split across two events."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import httpx

from apps.llm.dialects.base import HTTPBackend, usage_or_estimate
from apps.llm.errors import error_from_payload
from apps.llm.presets import Preset
from apps.llm.sse import sse_events
from apps.llm.types import (
    ChatRequest,
    Finish,
    FinishReason,
    LLMError,
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

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        reader = EventReader(self.route.preset)
        async with self.open_stream("/messages", self.payload(request)) as response:
            try:
                async for sse in sse_events(response.aiter_lines()):
                    for event in reader.feed(self.decode(sse.data), sse.event):
                        yield event
                    if reader.stopped:
                        break
            except httpx.TransportError:
                # Cut after the stop reason: only message_stop is lost, the answer is whole.
                if reader.finish is None:
                    raise
        if reader.finish is None:
            raise self.malformed("the stream ended before its stop reason")
        yield usage_or_estimate(reader.usage(), request, reader.output)
        yield Finish(reader.finish)


class EventReader:
    """Fold Messages API events into stream events, remembering usage and the stop reason."""

    __slots__ = ("finish", "input_tokens", "output", "output_tokens", "preset", "stopped")

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.finish: FinishReason | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.output: list[str] = []
        self.stopped = False

    def feed(self, data: Any, event: str) -> Sequence[StreamEvent]:
        if type(data) is not dict:
            raise LLMError("protocol", f"unexpected event {data!r:.200}", retryable=True)
        kind = data.get("type") or event
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                self.output.append(delta["text"])
                return (TextDelta(delta["text"]),)
            if delta.get("type") == "thinking_delta" and delta.get("thinking"):
                self.output.append(delta["thinking"])
                return (ReasoningDelta(delta["thinking"]),)
        elif kind == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
            self.input_tokens = usage.get("input_tokens", self.input_tokens)
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            # Cumulative counts: the last one is the total.
            self.output_tokens = usage.get("output_tokens", self.output_tokens)
            self.input_tokens = usage.get("input_tokens") or self.input_tokens
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish = STOP_REASONS.get(reason, "stop")
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise error_from_payload(preset=self.preset, data=data)
        return ()

    def usage(self) -> Usage | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return Usage(int(self.input_tokens), int(self.output_tokens))
