"""Scripted answerers for transport tests: they stand in for the pipeline, not for a provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from apps.bot.answer import AnswerDelta, AnswerEvent, AnswerFinal, AnswerReset

STREAMED_TOKENS = ["Par", "cels ", "ship ", "in ", "48 h", " [1]."]
# Set by a test to hold the answer between its tokens.
gate: asyncio.Event | None = None


async def streaming(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    for token in STREAMED_TOKENS:
        if gate is not None:
            await gate.wait()
        yield AnswerDelta(token)
    yield AnswerFinal(
        text="".join(STREAMED_TOKENS),
        citations=[{"n": 1, "title": "Shipping", "url": "https://shop.example.com/s"}],
    )


async def paced(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    """The same answer with its tokens further apart than the delta interval (40 ms)."""
    async for event in _spaced(0.06):
        yield event


async def hurried(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    """The same answer with its tokens 5 ms apart, faster than deltas go out."""
    async for event in _spaced(0.005):
        yield event


async def _spaced(seconds: float) -> AsyncIterator[AnswerEvent]:
    for token in STREAMED_TOKENS:
        await asyncio.sleep(seconds)
        yield AnswerDelta(token)
    yield AnswerFinal(text="".join(STREAMED_TOKENS))


async def regenerating(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    yield AnswerDelta("first attempt, cut")
    yield AnswerReset()
    yield AnswerDelta("second ")
    yield AnswerDelta("attempt")
    yield AnswerFinal(text="second attempt")
