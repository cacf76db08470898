"""Scripted answerers that let a test hold the bot mid-answer: they stand in for the pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from apps.bot.answer import AnswerDelta, AnswerEvent, AnswerFinal

TOKENS = ["The ", "bot ", "would ", "have ", "said ", "this."]
CITATIONS = [{"n": 1, "title": "Returns policy", "url": "https://shop.example.com/returns"}]


class Gate:
    """Let the answer run up to ``release_after`` tokens, then wait until ``opened``."""

    def __init__(self, release_after: int) -> None:
        self.release_after = release_after
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()


gate: Gate | None = None


async def gated(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    for index, token in enumerate(TOKENS):
        if gate is not None and index == gate.release_after:
            gate.reached.set()
            await gate.opened.wait()
        yield AnswerDelta(token)
    yield AnswerFinal(text="".join(TOKENS), citations=CITATIONS)


async def suggestion(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    yield AnswerDelta("Returns are free ")
    yield AnswerDelta("within 30 days [1].")
    yield AnswerFinal(text="Returns are free within 30 days [1].", citations=CITATIONS)
