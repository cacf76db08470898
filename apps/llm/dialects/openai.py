"""OpenAI-compatible chat completions (SSE), the dialect of most hosted and self-hosted servers.

Tolerates what the research file lists: usage in a separate ``choices: []`` chunk, on the finish
chunk, inside ``choices[0]`` (Moonshot), as zero placeholders (MiniMax) or cumulative on every
chunk (last one wins, never summed); ``reasoning_content`` or ``reasoning``; ``role`` repeated or
empty; extra fields; errors inside a 200 stream; a whole JSON body where a stream was asked for
(a completion known by its ``choices[].message``, with or without an ``object`` field).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import httpx

from apps.llm.dialects.base import HTTPBackend, usage_or_estimate
from apps.llm.errors import error_from_payload
from apps.llm.presets import Preset
from apps.llm.sse import sse_events
from apps.llm.tokens import estimate_tokens
from apps.llm.types import (
    ChatRequest,
    Embeddings,
    Finish,
    FinishReason,
    LLMError,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)

FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "stop",
    "function_call": "stop",
    "eos": "stop",
}


def usage_from(data: Any) -> Usage | None:
    """Read OpenAI-style usage; all-zero placeholders count as none."""
    if not isinstance(data, dict):
        return None
    prompt = data.get("prompt_tokens") or data.get("input_tokens") or 0
    completion = data.get("completion_tokens") or data.get("output_tokens") or 0
    if not (prompt or completion):
        return None
    return Usage(int(prompt), int(completion))


class ChunkReader:
    """Fold ``chat.completion.chunk`` objects into stream events, remembering usage and finish."""

    __slots__ = ("finish", "output", "preset", "usage")

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.finish: FinishReason | None = None
        self.usage: Usage | None = None
        self.output: list[str] = []

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        # Runs for every token of every answer: plain lookups, the rare keys tested first.
        if type(chunk) is not dict:
            raise LLMError("protocol", f"unexpected chunk {chunk!r:.200}", retryable=True)
        if "error" in chunk or "base_resp" in chunk:
            self._raise_if_error(chunk)
        if chunk.get("output_sensitive") or chunk.get("input_sensitive"):
            self.finish = "content_filter"
        if chunk.get("usage"):
            self.usage = usage_from(chunk["usage"]) or self.usage
        choices = chunk.get("choices")
        if not choices:
            return ()
        choice = choices[0]
        if "usage" in choice:
            self.usage = usage_from(choice["usage"]) or self.usage
        events: list[StreamEvent] = []
        # Only deltas: MiniMax may end with a whole "message" repeating the answer.
        delta = choice.get("delta")
        if delta:
            # Reasoning first: in a whole completion read as one delta it came first.
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                self.output.append(reasoning)
                events.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if content:
                self.output.append(content)
                events.append(TextDelta(content))
            if delta.get("refusal"):
                self.finish = "content_filter"
        if choice.get("flag"):
            self.finish = "content_filter"
        reason = choice.get("finish_reason")
        if reason and self.finish != "content_filter":
            self.finish = self.finish_reason(reason)
        return events

    def finish_reason(self, raw: str) -> FinishReason:
        # Unknown values (new provider extensions) end the answer normally: the text is whole.
        return self.preset.finish_reasons.get(raw) or FINISH_REASONS.get(raw, "stop")

    def _raise_if_error(self, chunk: dict[str, Any]) -> None:
        base_resp = chunk.get("base_resp")
        failed = isinstance(base_resp, dict) and base_resp.get("status_code") not in (0, None)
        if chunk.get("error") or failed:
            raise error_from_payload(preset=self.preset, data=chunk)


class OpenAIBackend(HTTPBackend):
    def payload(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model or self.route.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if self.route.preset.stream_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        reader = ChunkReader(self.route.preset)
        async with self.open_stream("/chat/completions", self.payload(request)) as response:
            if "json" in response.headers.get("content-type", ""):
                # An error sent with HTTP 200 (MiniMax), or a server that ignored stream: true.
                for event in self._whole_body(
                    reader, self.decode((await response.aread()).decode())
                ):
                    yield event
            else:
                try:
                    async for sse in sse_events(response.aiter_lines()):
                        if sse.data == "[DONE]":
                            break
                        data = self.decode(sse.data)
                        if sse.event == "error":
                            raise error_from_payload(preset=self.route.preset, data=data)
                        for event in reader.feed(data):
                            yield event
                except httpx.TransportError:
                    # Cut after the finish reason: only the usage chunk and [DONE] are lost.
                    if reader.finish is None:
                        raise
        if reader.finish is None:
            raise self.malformed("the stream ended before its finish reason")
        yield usage_or_estimate(reader.usage, request, reader.output)
        yield Finish(reader.finish)

    def _whole_body(self, reader: ChunkReader, data: Any) -> Sequence[StreamEvent]:
        """Read a JSON body sent where a stream was asked for: a completion, a chunk or an error.

        Told apart by shape, not by ``object`` (which some servers leave out): a choice with a
        ``message`` is a whole completion, read as one delta; having ended, it has finished.
        """
        choices = data.get("choices") if isinstance(data, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            return reader.feed(data)
        events = reader.feed({**data, "choices": [{**choice, "delta": choice["message"]}]})
        reader.finish = reader.finish or "stop"
        return events

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        preset = self.route.preset
        if not preset.embeddings:
            return await super().embed(texts)
        vectors: list[list[float]] = []
        usage = Usage(0, 0)
        for start in range(0, len(texts), preset.embedding_batch):
            batch = list(texts[start : start + preset.embedding_batch])
            data = await self.post_json("/embeddings", {"model": self.route.model, "input": batch})
            try:
                rows = sorted(data["data"], key=lambda row: row.get("index", 0))
                vectors += [[float(x) for x in row["embedding"]] for row in rows]
            except (KeyError, TypeError, ValueError):
                raise self.malformed("the embeddings response has no data[].embedding") from None
            tokens = usage_from(data.get("usage")) or Usage(
                sum(map(estimate_tokens, batch)), 0, estimated=True
            )
            usage += Usage(tokens.input_tokens, 0, tokens.estimated)
        return Embeddings(vectors, usage)
