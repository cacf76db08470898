"""Answering a question as a visitor would, without a conversation: what ``bot_eval`` and the
answer checks (``answer_checks``) share. Cache off, nobody handed over, nothing stored."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import replace

from django.forms.models import model_to_dict

from apps.bot.answer import AnswerFinal
from apps.bot.memory import Turn
from apps.bot.models import AnswerAudit, BotSettings
from apps.bot.normalise import language_detect, turn_language
from apps.bot.respond import respond
from apps.bot.trace import Ask, Trace
from apps.llm.models import Origin
from apps.llm.services import usage_origin

ANSWERED = (AnswerAudit.Decision.FAQ, AnswerAudit.Decision.ANSWER)


def settings_uncached(settings: BotSettings | None) -> BotSettings:
    """The settings to evaluate with, answer cache off: every query is really answered."""
    fields = model_to_dict(settings, exclude=["id", "site"]) if settings else {}
    return BotSettings(**{**fields, "cache_seconds": 0})


def ask_following(template: Ask, *, question: str, history: Sequence[str]) -> Ask:
    """``template`` asked ``question`` after the visitor's earlier messages ``history``, in the
    language a conversation of those messages is held in (``conversation_language_follow``):
    "and for electronics?" after "保修多久？" is answered in Chinese, as in the widget."""
    language = ""
    for number, text in enumerate(history):
        if language_detect(text, fallback=""):
            language = turn_language(text, established=language, follows=number > 0)
    return replace(
        template,
        question=question,
        turns=tuple(Turn("user", text) for text in history),
        conversation_language=language,
        fallback_language=language or template.fallback_language,
    )


async def answer_traced(ask: Ask) -> tuple[Trace, AnswerFinal | None]:
    """Run the pipeline on ``ask``: what it found and decided, and its final answer (None only
    if the pipeline broke its contract of ending with one)."""
    trace = Trace()
    final = None
    # Not a visitor's answer: Insights' reliability figures must not count it.
    with usage_origin(Origin.EVALUATION):
        async with aclosing(respond(ask, trace)) as events:
            async for event in events:
                if isinstance(event, AnswerFinal):
                    final = event
    return trace, final


def cited_keys(trace: Trace) -> set[str]:
    """The entries the answer cited, each by its external id, or its title when it has none."""
    return {p["external_id"] or p["title"] for p in trace.passages if p["cited"]}
