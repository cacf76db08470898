"""The answers that end a turn without the model: FAQ, cache, "I don't know", refusals, handoff.

Each sets the decision and its reason in the trace and returns the ``AnswerFinal``; a handoff is
only recorded here (``trace.handoff``) and requested once the reply is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apps.bot.answer import AnswerFinal
from apps.bot.cache import CachedAnswer
from apps.bot.checks import answer_text_check
from apps.bot.decide import Decision
from apps.bot.guard import Hit as TermHit
from apps.bot.guard import Matcher
from apps.bot.models import AnswerAudit
from apps.bot.texts import text_for
from apps.bot.trace import Ask, Trace
from apps.chat.events import Citation
from apps.handoff.details import HandoffDetail
from apps.handoff.texts import sentences, team_has_it
from apps.knowledge.selectors import Hit

Kind = AnswerAudit.Decision


def citation_of(hit: Hit, n: int) -> Citation:
    title = " \u203a ".join([hit.title, *hit.heading_path])
    return {"n": n, "title": title, "url": hit.url}


def decision_note(trace: Trace, decision: Decision, hits: Sequence[Hit]) -> None:
    """Record the decision and every passage considered (ids and scores) in the trace."""
    trace.decision = {"faq": Kind.FAQ, "answer": Kind.ANSWER}.get(decision.kind, Kind.ABSTAIN)
    trace.reason = decision.reason
    trace.top_confidence = decision.top_confidence
    chosen = {hit.passage_id for hit in decision.hits}
    trace.passages = [
        {
            "id": hit.passage_id,
            "kind": hit.kind,
            "external_id": hit.external_id,
            "title": hit.title,
            "language": hit.language,
            "confidence": round(hit.confidence, 4),
            "lexical": round(hit.lexical_score, 4),
            "semantic": None if hit.semantic_score is None else round(hit.semantic_score, 4),
            "used": hit.passage_id in chosen,
            "cited": False,
        }
        for hit in hits
    ]


def passages_mark(trace: Trace, *, used: Sequence[int], cited: Sequence[int]) -> None:
    for row in trace.passages:
        row["used"] = row["id"] in used
        row["cited"] = row["id"] in cited


def bot_line(text: str, citations: Sequence[Citation] = ()) -> AnswerFinal:
    """The bot's own words rather than an answer from the knowledge base."""
    return AnswerFinal(text=text, citations=list(citations), grounded=False)


def faq_reply(ask: Ask, hit: Hit, matcher: Matcher, trace: Trace) -> AnswerFinal:
    """The FAQ entry's curated answer, as written (no model call)."""
    text, stop = answer_text_check(hit.answer or "", matcher, trace)
    if stop is not None:
        return refuse_reply(ask, trace, "guard_output", stop)
    passages_mark(trace, used=[hit.passage_id], cited=[hit.passage_id])
    return AnswerFinal(text=text, citations=[citation_of(hit, 1)])


def cached_reply(ask: Ask, cached: CachedAnswer, matcher: Matcher, trace: Trace) -> AnswerFinal:
    """A stored answer, checked against today's term list."""
    trace.cached = True
    trace.decision, trace.reason = cached.decision, "cache"
    trace.passages, trace.route = cached.passages, cached.route
    text, stop = answer_text_check(cached.text, matcher, trace)
    if stop is not None:
        return refuse_reply(ask, trace, "guard_output", stop)
    return AnswerFinal(text=text, citations=list(cached.citations))


@dataclass(frozen=True)
class OpenTicket:
    """The conversation already has an active ticket: the team has the visitor's message."""

    # Where the team's replies are emailed too ("": only in the chat).
    email: str


def abstain_reply(
    ask: Ask,
    trace: Trace,
    reason: str,
    ticket: OpenTicket | None = None,
    *,
    nobody_told: bool = False,
) -> AnswerFinal:
    """Say plainly that the knowledge base has no answer, and offer a person (or call one).

    With a ticket already open (a message left, say) no person is offered again: the visitor
    is told the team has their message. Told already that nobody can come (``nobody_told``),
    they are pointed to the form instead, and nobody is called.
    """
    trace.decision, trace.reason = Kind.ABSTAIN, reason
    if ticket is not None and ask.may_hand_off:
        alone = text_for("abstain_alone", trace.language)
        return bot_line(
            sentences(trace.language, alone, team_has_it(trace.language, email=ticket.email))
        )
    if nobody_told and ask.may_hand_off:
        return bot_line(text_for("abstain_nobody", trace.language))
    in_a_row = ask.abstentions + 1
    if ask.may_hand_off and ask.abstain_limit and in_a_row >= ask.abstain_limit:
        # handoff's taxonomy: one miss is missing knowledge, a run of them a repeated failure.
        trace.handoff = "missing_knowledge" if in_a_row == 1 else "repeated_failure"
        trace.handoff_detail = HandoffDetail("unanswered", {"count": in_a_row})
        return bot_line(text_for("abstain_handoff", trace.language))
    return bot_line(text_for("abstain", trace.language))


def refuse_reply(ask: Ask, trace: Trace, reason: str, term: TermHit | None) -> AnswerFinal:
    """A safe message instead of an answer the guard or the provider stopped."""
    trace.decision, trace.reason = Kind.REFUSE, reason
    # The provider's refusal may be over-cautious about a fair question: a person can answer.
    hand_off = term.term.action == "handoff" if term is not None else True
    if hand_off and ask.may_hand_off:
        trace.handoff = "content_filter"
        trace.handoff_detail = HandoffDetail(
            reason, {"category": term.term.category} if term else {}
        )
        return bot_line(text_for("refuse_handoff", trace.language))
    return bot_line(text_for("refuse", trace.language))


def unavailable_reply(ask: Ask, trace: Trace) -> AnswerFinal:
    """No model could answer: apologise and hand over."""
    trace.decision, trace.reason = Kind.FAIL, "model_failed"
    if ask.may_hand_off:
        trace.handoff = "model_unavailable"
        trace.handoff_detail = HandoffDetail("model_failed", {"outcome": trace.outcome or "failed"})
        return bot_line(text_for("unavailable", trace.language))
    return bot_line(text_for("abstain", trace.language))


# What a reply that hands over says instead when nobody can take the conversation now.
_ALONE: dict[str, str] = {
    Kind.ABSTAIN: "abstain_alone",
    Kind.REFUSE: "refuse_alone",
    Kind.FAIL: "unavailable_alone",
    Kind.HANDOFF: "handover_alone",
}


def nobody_there_reply(trace: Trace, final: AnswerFinal) -> AnswerFinal:
    """Return ``final`` without its promise of a colleague.

    Handoff's own line will offer to leave a message, and "I'm passing you to a colleague"
    above "No agent is available" contradicts it. Checked just before the reply is stored, so
    an agent coming online a moment later reads as "Sorry, I can't answer right now." and then
    "An agent will join shortly": true, if less warm.
    """
    return bot_line(text_for(_ALONE[trace.decision], trace.language), final.citations)


def small_talk_reply(trace: Trace, kind: str) -> AnswerFinal:
    """A pleasantry answered in kind: not a question the knowledge base missed, so no miss
    towards ``abstain_limit``, no knowledge gap and nothing cached."""
    trace.decision, trace.reason = Kind.SMALL_TALK, "small_talk"
    return bot_line(text_for(f"small_talk_{kind}", trace.language))


def declined_reply(trace: Trace) -> AnswerFinal:
    """The visitor said no to the offer of a person: carry on, nothing handed over."""
    trace.decision, trace.reason = Kind.DECLINED, "declined_offer"
    return bot_line(text_for("declined", trace.language))


def handover_reply(trace: Trace, ticket: OpenTicket | None = None) -> AnswerFinal:
    """The visitor said yes to the offer of a person; with a ticket already open, nothing more
    is handed over (not a second form): the team has their message."""
    trace.decision, trace.reason = Kind.HANDOFF, "accepted_offer"
    if ticket is not None:
        return bot_line(team_has_it(trace.language, email=ticket.email))
    trace.handoff = "customer_request"
    trace.handoff_detail = HandoffDetail("accepted_offer")
    return bot_line(text_for("handover", trace.language))
