"""Ollama's native API: ``/api/chat`` as NDJSON ending in a ``done: true`` object."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from apps.llm.dialects.base import HTTPBackend, usage_or_estimate
from apps.llm.errors import error_from_payload
from apps.llm.tokens import estimate_input_tokens
from apps.llm.types import (
    ChatRequest,
    Embeddings,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)


class OllamaBackend(HTTPBackend):
    def payload(self, request: ChatRequest) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens:
            options["num_predict"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        return {
            "model": request.model or self.route.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "options": options,
        }

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        finish: FinishReason | None = None
        usage: Usage | None = None
        output: list[str] = []
        async with self.open_stream("/api/chat", self.payload(request)) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                data = self.decode(line)
                if not isinstance(data, dict):
                    raise self.malformed(f"unexpected line {line[:200]!r}")
                if data.get("error"):
                    # A failure after HTTP 200 arrives as one more line.
                    raise error_from_payload(preset=self.route.preset, data=data)
                message = data.get("message") or {}
                if message.get("content"):
                    output.append(message["content"])
                    yield TextDelta(message["content"])
                if message.get("thinking"):
                    output.append(message["thinking"])
                    yield ReasoningDelta(message["thinking"])
                if data.get("done"):
                    finish = "length" if data.get("done_reason") == "length" else "stop"
                    if "eval_count" in data:
                        # prompt_eval_count is left out when the whole prompt was cached.
                        prompt = data.get("prompt_eval_count")
                        usage = Usage(
                            prompt if prompt is not None else estimate_input_tokens(request),
                            data["eval_count"],
                            estimated=prompt is None,
                        )
                    break
        if finish is None:
            raise self.malformed("the stream ended before its done object")
        yield usage_or_estimate(usage, request, output)
        yield Finish(finish)

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        data = await self.post_json("/api/embed", {"model": self.route.model, "input": list(texts)})
        try:
            vectors = [[float(x) for x in vector] for vector in data["embeddings"]]
        except (KeyError, TypeError, ValueError):
            raise self.malformed("the embed response has no embeddings") from None
        return Embeddings(vectors, Usage(int(data.get("prompt_eval_count") or 0), 0))
