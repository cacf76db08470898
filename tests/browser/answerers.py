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

from apps.bot.answer import AnswerDelta, AnswerEvent, AnswerFinal, AnswerReset
from apps.chat.events import Citation

# In ``Script.tokens``: discard what was streamed so far (the answer is regenerated).
RESET = None


@dataclass
class Script:
    tokens: list[str | None] = field(
        default_factory=lambda: ["Parcels ", "ship ", "in ", "48 hours."]
    )
    citations: list[Citation] = field(default_factory=list)
    # Seconds to wait before each token.
    delay: float = 0.0
    # Stream this many tokens, then wait for ``release`` (set from the test thread).
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    # False: the answer breaks off (AnswerFinal(complete=False)).
    complete: bool = True
    # False: the answerer found nothing in the knowledge base (the bot's own decline).
    grounded: bool = True
    # For each answer, time.time() just before each token was yielded.
    token_times: list[list[float]] = field(default_factory=list)


current: Script | None = None


async def scripted(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    script = current
    assert script is not None, "use the `answer` fixture"
    times: list[float] = []
    script.token_times.append(times)
    kept: list[str] = []
    for index, token in enumerate(script.tokens):
        if index == script.hold_after:
            await asyncio.to_thread(script.release.wait, 30)
        if token is RESET:
            kept.clear()
            yield AnswerReset()
            continue
        if script.delay:
            await asyncio.sleep(script.delay)
        times.append(time.time())
        kept.append(token)
        yield AnswerDelta(token)
    yield AnswerFinal(
        text="".join(kept),
        citations=list(script.citations),
        complete=script.complete,
        grounded=script.grounded,
    )
