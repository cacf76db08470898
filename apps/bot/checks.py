"""The guard's steps in the pipeline: the question, whole answers, and the passages used.

Each returns what may go on and records its verdicts in the trace; ``generate`` guards the
streamed answer itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from apps.bot.guard import Hit as TermHit
from apps.bot.guard import Matcher, mask, strongest
from apps.bot.trace import GuardVerdict, Trace
from apps.knowledge.selectors import Hit


def _split(hits: list[TermHit]) -> tuple[TermHit | None, list[TermHit]]:
    """The block/hand-off hit that stops the text (the strongest), and the mask hits."""
    stop = strongest(hit for hit in hits if hit.term.action != "mask")
    return stop, [hit for hit in hits if hit.term.action == "mask"]


def _stopped(stop: TermHit) -> str:
    return "handed_off" if stop.term.action == "handoff" else "blocked"


def question_check(question: str, matcher: Matcher, trace: Trace) -> tuple[str, TermHit | None]:
    """The question with mask terms masked, and the block/hand-off term that stops it, if any."""
    stop, masked = _split(matcher.find(question))
    if stop is not None:
        trace.guard.append(GuardVerdict("input", _stopped(stop), stop, stop.excerpt(question)))
        return question, stop
    trace.guard.extend(
        GuardVerdict("input", "masked", hit, hit.excerpt(question)) for hit in masked
    )
    return mask(question, masked), None


def answer_text_check(text: str, matcher: Matcher, trace: Trace) -> tuple[str, TermHit | None]:
    """A whole answer (FAQ, cache) checked as a stream would be: masked, or stopped."""
    stop, masked = _split(matcher.find(text))
    if stop is not None:
        trace.guard.append(GuardVerdict("output", _stopped(stop), stop, stop.excerpt(text)))
        return text, stop
    trace.guard.extend(GuardVerdict("output", "masked", hit) for hit in masked)
    return mask(text, masked), None


def passages_check(hits: Sequence[Hit], matcher: Matcher, trace: Trace) -> list[Hit]:
    """Passages fit for the prompt: a block/hand-off term keeps one out; mask terms are masked.

    Knowledge is also scanned when imported (``records.kb_guard_scan``), but a term added since
    must not reach a visitor through an old passage.
    """
    kept = []
    for hit in hits:
        stop, masked = _split(matcher.find(hit.text))
        if stop is not None:
            trace.guard.append(
                GuardVerdict(
                    "knowledge",
                    "excluded",
                    stop,
                    stop.excerpt(hit.text),
                    article_id=hit.article_id,
                    faq_id=hit.faq_id,
                )
            )
            continue
        kept.append(replace(hit, text=mask(hit.text, masked)) if masked else hit)
    return kept
