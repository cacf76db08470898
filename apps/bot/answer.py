"""What an answerer yields while it answers one visitor message.

An answerer is an async generator ``answer(*, conversation_id, question_id)`` yielding these
events; ``apps.bot.services.reply_run`` persists and publishes them. It yields any number of
``AnswerStarted``/``AnswerDelta``/``AnswerReset`` and ends with exactly one ``AnswerFinal``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

from apps.chat.events import Citation


@dataclass(frozen=True)
class AnswerStarted:
    """A model was asked: text will probably stream. The answer's message can be created while
    the model thinks, rather than after its first token."""


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class AnswerReset:
    """Discard the text streamed so far: the answer is being regenerated."""


@dataclass(frozen=True)
class AnswerFinal:
    text: str
    citations: list[Citation] = field(default_factory=list)
    # False when the answer broke off and could not be regenerated.
    complete: bool = True
    # False for the bot's own lines (I don't know, refusals, handoff, small talk): nothing from
    # the knowledge base, so agent assist has no reply to suggest.
    grounded: bool = True


AnswerEvent = AnswerStarted | AnswerDelta | AnswerReset | AnswerFinal


class Answerer(Protocol):
    # A generator, not any iterator: reply_run closes it (aclosing) so its cleanup runs.
    def __call__(
        self, *, conversation_id: int, question_id: int
    ) -> AsyncGenerator[AnswerEvent, None]: ...
