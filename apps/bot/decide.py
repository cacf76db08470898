"""Step 3: answer from an FAQ entry, answer from passages, or say "I don't know", from evidence.

The evidence is the knowledge search's calibrated confidence (the probability that a hit answers
the question). Thresholds are per site (``BotSettings``), calibrated on faq-dev
(docs/answering.md). Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from apps.knowledge.search.analyzer import FUNCTION_WORDS
from apps.knowledge.selectors import Hit
from apps.llm.offline import families_quotable, language_family

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


def usable(hits: Sequence[Hit], *, language: str, question: str, cross_language: bool) -> list[Hit]:
    """The hits an answer to ``question`` may use, in search order.

    The offline answerer quotes, so it can only use passages the visitor reads: in their
    language, and in the other one too when ``question`` is partly written in it ("我想退货，but
    I lost the receipt"; the answerer's own rule, ``families_quotable``). A model translates, so
    it gets them all.
    """
    if cross_language:
        return list(hits)
    families = families_quotable(question, language)
    return [hit for hit in hits if language_family(hit.language) in families]


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
        and not _asked_elsewhere(top, hits)
    ):
        return Decision("faq", "faq_match", (top,), top.confidence)
    if top.confidence < answer_threshold:
        return Decision("abstain", "low_confidence", (), top.confidence)
    floor = top.confidence * RELATIVE_FLOOR
    chosen = tuple(hit for hit in hits[:max_passages] if hit.confidence >= floor)
    return Decision("answer", "evidence", chosen, top.confidence)


def _asked_elsewhere(faq: Hit, hits: Sequence[Hit]) -> set[str]:
    """The question's content words another hit has and ``faq`` lacks.

    An FAQ entry whose question is mostly a product's name ("How do I assemble the LM-3307
    Halo floor lamp?") matched any question naming the product; "How long is the warranty
    for the Halo floor lamp?" is not answered by it as written while another hit has
    "warranty".
    """
    own = set(faq.matched_terms)
    return {
        word
        for hit in hits[1:]
        for word in hit.matched_terms
        if word not in own and word not in FUNCTION_WORDS
    }
