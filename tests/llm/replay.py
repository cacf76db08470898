"""Turn the recorded provider responses in ``provider_fixtures/`` into loopback replies.

The files are copied unchanged from ``shared/provider-fixtures`` (its README, kept alongside, says
where each comes from). Replaying follows the README: raw ``.sse`` bodies are sent byte for byte,
one event per write; ``.chunks.ndjson`` lines had their SSE envelope stripped by the recorder and
get it back (``data: <line>`` then ``data: [DONE]``; Anthropic's ``event: <type>`` too); error
bodies are sent as recorded with the status their name carries. Caveats, as the README labels
them: ``.excerpt.`` NDJSON elision lines (``......``) are dropped (they are not JSON); a single
pretty-printed chunk is sent as one multi-line SSE event (the JSON is intact, the framing is
ours); ``.documented.`` files are providers' documented examples, not captures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.llm.loopback import Reply

FIXTURES = Path(__file__).resolve().parent / "provider_fixtures"
_DONE = b"data: [DONE]\n\n"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _headers(name: str) -> dict[str, str]:
    recorded = FIXTURES / re.sub(r"(\.excerpt)?\.sse$", ".headers.json", name)
    if not recorded.exists():
        return {}
    headers = json.loads(recorded.read_text())["headers"]
    return {"content-type": headers["content-type"][0]}


def sse_file(name: str) -> Reply:
    """A raw SSE body, one event per write.

    In ``.excerpt.`` files the elision lines replaced the blank line between two events; it is
    put back, or the two events' data lines would join into one broken JSON document.
    """
    body = fixture_bytes(name)
    if ".excerpt." in name:
        body = re.sub(rb"(?m)^\.{3,}\r?$", b"", body)
    events = [event + b"\n\n" for event in body.split(b"\n\n") if event]
    tail = body[len(b"".join(events)) :]
    return Reply.sse([*events, tail], headers=_headers(name))


def chunks_file(name: str, *, anthropic: bool = False) -> Reply:
    """Recorded chunks with their SSE envelope put back."""
    pieces = []
    for line in fixture_bytes(name).splitlines():
        if not line.strip():
            continue
        if anthropic:
            event = json.loads(line)["type"].encode()
            pieces.append(b"event: " + event + b"\ndata: " + line + b"\n\n")
        else:
            pieces.append(b"data: " + line + b"\n\n")
    return Reply.sse(pieces if anthropic else [*pieces, _DONE])


def pretty_chunk_file(*names: str) -> Reply:
    """Pretty-printed chunk objects, each sent as one multi-line SSE event, then [DONE]."""
    pieces = [
        b"".join(b"data: " + line + b"\n" for line in fixture_bytes(name).splitlines()) + b"\n"
        for name in names
    ]
    return Reply.sse([*pieces, _DONE])


def ndjson_file(*names: str) -> Reply:
    """Ollama NDJSON lines (pretty documented objects compacted to one line each)."""
    pieces = []
    for name in names:
        raw = fixture_bytes(name)
        if name.endswith(".json"):
            pieces.append(json.dumps(json.loads(raw), ensure_ascii=False).encode() + b"\n")
            continue
        pieces += [line + b"\n" for line in raw.splitlines() if line.strip(b". \r")]
    return Reply.ndjson(pieces)


def error_file(
    name: str, *, status: int | None = None, content_type: str = "application/json"
) -> Reply:
    """A recorded error body with the status its file name carries (``error-404-…``)."""
    if status is None:
        match = re.search(r"error-(\d{3})-", name)
        assert match, f"{name} does not name its status"
        status = int(match.group(1))
    return Reply(status, {"content-type": content_type}, (fixture_bytes(name),), chunked=False)
