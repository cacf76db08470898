"""Step 3: answer from an FAQ entry, answer from passages, or say "I don't know", from evidence.

The evidence is the knowledge search's calibrated confidence (the probability that a hit answers
the question). Thresholds are per site (``BotSettings``), calibrated on faq-dev
(docs/answering.md). Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from apps.knowledge.selectors import Hit

# A passage joins the answer's context when it is at least this share as likely as the best one:
# weaker ones add noise (and wrong citations), not evidence.
RELATIVE_FLOOR = 0.8


@dataclass(frozen=True)
class Decision:
    kind: Literal["faq", "answer", "abstain"]
    # faq_match, evidence, low_confidence, no_hits
    reason: str
    # What to answer from, best first: the FAQ entry, or the passages for the prompt.
    hits: tuple[Hit, ...]
    top_confidence: float | None


def usable(hits: Sequence[Hit], *, language: str, cross_language: bool) -> list[Hit]:
    """The hits an answer may use, in search order.

    The offline answerer quotes, so it can only use passages in the visitor's language; a model
    translates, so it gets them all.
    """
    if cross_language:
        return list(hits)
    return [hit for hit in hits if hit.language == language]


def decide(
    hits: Sequence[Hit],
    *,
    language: str,
    faq_threshold: float,
    answer_threshold: float,
    max_passages: int,
) -> Decision:
    """Decide from ``hits`` (already filtered by ``usable``, best first).

    An FAQ answer is given as written, so only one in the visitor's ``language`` qualifies.
    """
    if not hits:
        return Decision("abstain", "no_hits", (), None)
    top = hits[0]
    if (
        top.kind == "faq"
        and top.answer
        and top.language == language
        and top.confidence >= faq_threshold
    ):
        return Decision("faq", "faq_match", (top,), top.confidence)
    if top.confidence < answer_threshold:
        return Decision("abstain", "low_confidence", (), top.confidence)
    floor = top.confidence * RELATIVE_FLOOR
    chosen = tuple(hit for hit in hits[:max_passages] if hit.confidence >= floor)
    return Decision("answer", "evidence", chosen, top.confidence)
