"""A scripted answerer for browser tests: tokens, a per-token delay, a hold point, timestamps.

It stands in for the answering pipeline (not for a model provider). The ``answer`` fixture
installs a fresh ``Script`` as ``current`` and points ``settings.CSBOT_ANSWERER`` here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from apps.bot.answer import AnswerDelta, AnswerEvent, AnswerFinal
from apps.chat.events import Citation


@dataclass
class Script:
    tokens: list[str] = field(default_factory=lambda: ["Parcels ", "ship ", "in ", "48 hours."])
    citations: list[Citation] = field(default_factory=list)
    # Seconds to wait before each token.
    delay: float = 0.0
    # Stream this many tokens, then wait for ``release`` (set from the test thread).
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    # time.time() when each answer yielded its first token.
    first_token_at: list[float] = field(default_factory=list)


current: Script | None = None


async def scripted(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    script = current
    assert script is not None, "use the `answer` fixture"
    for index, token in enumerate(script.tokens):
        if index == script.hold_after:
            await asyncio.to_thread(script.release.wait, 30)
        if script.delay:
            await asyncio.sleep(script.delay)
        if index == 0:
            script.first_token_at.append(time.time())
        yield AnswerDelta(token)
    yield AnswerFinal(text="".join(script.tokens), citations=list(script.citations))
