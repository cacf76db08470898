"""Server-sent events, parsed from the lines of a response body (WHATWG ``text/event-stream``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Yield one event per blank-line-terminated block that carries data.

    Comment lines (``: keep-alive``, DashScope's ``:HTTP_STATUS/200``), ``id:``, ``retry:`` and
    unknown fields are skipped, as the spec says. One exception: llama.cpp once sent mid-stream
    errors as an ``error:`` line, which is surfaced as an event named ``error``. A last block
    without its blank line is still delivered; a cut inside it shows up as malformed JSON.
    """
    event = ""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line[0] == ":":
            continue
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "error":
            yield SSEEvent("error", value)
    if data:
        yield SSEEvent(event or "message", "\n".join(data))
