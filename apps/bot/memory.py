"""Conversation memory: the recent turns a model sees, newest kept first, within a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from apps.bot.smalltalk import small_talk_kind
from apps.llm.tokens import estimate_tokens

# A single turn longer than this is cut: one pasted essay must not push every other turn out.
MAX_TURN_TOKENS = 300


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


def window(turns: Sequence[Turn], *, budget: int) -> list[Turn]:
    """The latest ``turns`` (oldest first) whose estimated tokens fit in ``budget``.

    A conversation may start with the bot's turns (a greeting); a window never does, because a
    model's chat template expects the user to speak first.
    """
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        text = _clip(turn.text)
        cost = estimate_tokens(text)
        if used + cost > budget:
            break
        kept.append(Turn(turn.role, text))
        used += cost
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)
    return kept


def _clip(text: str) -> str:
    if estimate_tokens(text) <= MAX_TURN_TOKENS:
        return text
    # The longest prefix within the limit (estimates grow with the prefix).
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= MAX_TURN_TOKENS:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "\u2026"


def last_question(turns: Sequence[Turn]) -> str:
    """The visitor's latest earlier question, or "": a "hi" or "thanks" between is no topic a
    follow-up could lean on."""
    return next(
        (
            turn.text
            for turn in reversed(turns)
            if turn.role == "user" and not small_talk_kind(turn.text)
        ),
        "",
    )
