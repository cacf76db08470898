"""Scripted provider replies in the OpenAI-compatible dialect, for gateway and pipeline tests.

provider.reply(openai_stream(["Parcels ", "ship in 48 h [1]."]))
provider.reply(openai_stream(["Parcels "], then=[CUT]))        # breaks after a token
provider.reply(openai_error(503, "overloaded"))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tests.llm.loopback import Piece, Reply

DONE = b"data: [DONE]\n\n"


def openai_chunk(
    text: str | None = None,
    *,
    finish: str | None = None,
    usage: tuple[int, int] | None = None,
    choices: bool = True,
) -> bytes:
    """One ``chat.completion.chunk`` as an SSE event."""
    chunk: dict[str, Any] = {"object": "chat.completion.chunk", "usage": None}
    if choices:
        delta = {} if text is None else {"content": text}
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    else:
        chunk["choices"] = []
    if usage is not None:
        chunk["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


def openai_stream(
    tokens: Sequence[str],
    *,
    finish: str = "stop",
    usage: tuple[int, int] | None = (12, 7),
    then: Iterable[Piece] | None = None,
    between: Piece | None = None,
) -> Reply:
    """Stream ``tokens`` then finish, usage chunk and [DONE]; or, with ``then``, tokens then that.

    ``between`` (a Pause, say) goes between tokens.
    """
    pieces: list[Piece] = []
    for token in tokens:
        pieces.append(openai_chunk(token))
        if between is not None:
            pieces.append(between)
    if then is not None:
        return Reply.sse([*pieces, *then])
    pieces.append(openai_chunk(finish=finish))
    if usage is not None:
        pieces.append(openai_chunk(usage=usage, choices=False))
    return Reply.sse([*pieces, DONE])


def openai_error(
    status: int,
    message: str = "scripted failure",
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    error = {"message": message, "type": "scripted", "code": code}
    return Reply.json({"error": error}, status=status, headers=headers)


def embeddings_reply(vectors: Sequence[Sequence[float]], *, prompt_tokens: int = 8) -> Reply:
    data = [
        {"object": "embedding", "index": i, "embedding": list(v)} for i, v in enumerate(vectors)
    ]
    return Reply.json(
        {
            "object": "list",
            "data": data,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )
