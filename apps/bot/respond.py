"""The answering core: normalise → guard the question → search → decide → generate → check.

``respond`` yields what the visitor sees (``AnswerStarted`` when it asks the model,
``AnswerDelta``/``AnswerReset``, then one ``AnswerFinal``) and records in a ``Trace`` what it
found and decided. It reads (knowledge, settings, terms) but writes nothing:
``pipeline.answer`` stores the audit and hands over, ``bot_eval`` scores. Each step is a
small function.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.utils import timezone

from apps.bot import cache, replies
from apps.bot.answer import AnswerEvent, AnswerFinal, AnswerReset, AnswerStarted
from apps.bot.checks import passages_check, question_check
from apps.bot.decide import decide, usable
from apps.bot.generate import Generation
from apps.bot.guard import Matcher
from apps.bot.memory import last_question, window
from apps.bot.models import AnswerAudit
from apps.bot.normalise import (
    Standalone,
    cache_form,
    is_affirmative,
    is_decline,
    is_follow_up,
    is_short,
    keeps_topic,
    language_detect,
    rewrite_by_rules,
    turn_language,
)
from apps.bot.prompts import PromptPassage, answer_messages, rewrite_messages
from apps.bot.selectors import guard_matcher
from apps.bot.smalltalk import small_talk_kind
from apps.bot.trace import Ask, Trace
from apps.core.lib.codes import CODE, is_spaced
from apps.core.lib.terms import terms, words
from apps.handoff.models import Ticket
from apps.handoff.selectors import handoff_nobody_told, ticket_active_for_conversation
from apps.knowledge.search.analyzer import FUNCTION_WORDS
from apps.knowledge.selectors import Hit, kb_version, passages_search, words_unknown
from apps.llm.gateway import Done
from apps.llm.routes import Route
from apps.llm.services import chain_get, chat_stream
from apps.llm.types import ChatRequest, Document

SEARCH_LIMIT = 10
REWRITE_MAX_CHARS = 300
TEMPERATURE = 0.2


@dataclass(frozen=True)
class _Prepared:
    matcher: Matcher
    routes: tuple[Route, ...]
    kb_version: str
    ticket: replies.OpenTicket | None = None

    @property
    def route_key(self) -> str:
        return ",".join(route.label for route in self.routes)

    @property
    def has_model(self) -> bool:
        """A real model is in the chain (not only the offline answerer)."""
        return any(route.provider != "offline" for route in self.routes)


def _open_ticket(ask: Ask) -> replies.OpenTicket | None:
    """The conversation's active ticket, when the bot answers the visitor (not agent assist)."""
    if not ask.may_hand_off or ask.conversation_id is None:
        return None
    ticket = ticket_active_for_conversation(conversation_id=ask.conversation_id)
    if ticket is None:
        return None
    # Replies are emailed for a left message only (apps/handoff/mail.py).
    emailed = ticket.channel == Ticket.Channel.MESSAGE
    return replies.OpenTicket(email=ticket.contact_email if emailed else "")


def _matcher_kb_version_ticket(ask: Ask) -> tuple[Matcher, str, replies.OpenTicket | None]:
    return (
        guard_matcher(site_id=ask.site_id),
        kb_version(collections=ask.collection_ids),
        _open_ticket(ask),
    )


async def _prepare(ask: Ask) -> _Prepared:
    matcher, version, ticket = await database_sync_to_async(_matcher_kb_version_ticket)(ask)
    routes = await chain_get(site_id=ask.site_id)
    return _Prepared(matcher=matcher, routes=routes, kb_version=version, ticket=ticket)


def _nobody_told(ask: Ask) -> bool:
    """Nobody can come to the visitor, and they were told so (with the form) already."""
    if not ask.may_hand_off or ask.conversation_id is None or ask.site_id is None:
        return False
    return handoff_nobody_told(
        site_id=ask.site_id, conversation_id=ask.conversation_id, at=timezone.now()
    )


async def _abstain(ask: Ask, trace: Trace, reason: str, prepared: _Prepared) -> AnswerFinal:
    """ "I don't know", offering a person unless the visitor was told nobody can come."""
    told = prepared.ticket is None and await database_sync_to_async(_nobody_told)(ask)
    return replies.abstain_reply(ask, trace, reason, prepared.ticket, nobody_told=told)


async def respond(ask: Ask, trace: Trace) -> AsyncGenerator[AnswerEvent, None]:
    """Answer ``ask.question``; the last event is the one ``AnswerFinal``."""
    trace.language = _language(ask)
    if _offered_a_person(ask) and ask.may_hand_off and is_affirmative(ask.question):
        ticket = await database_sync_to_async(_open_ticket)(ask)
        yield replies.handover_reply(trace, ticket)
        return
    if _offered_a_person(ask) and is_decline(ask.question):
        # Searched, "no thanks" would be one more question the bot cannot answer: a handoff.
        yield replies.declined_reply(trace)
        return
    if is_affirmative(ask.question) or is_decline(ask.question):
        # Nothing was offered: searched, a bare "yes" finds any passage that opens with "Yes,".
        yield replies.small_talk_reply(trace, "acknowledged")
        return
    if kind := small_talk_kind(ask.question):
        yield replies.small_talk_reply(trace, kind)
        return
    prepared = await _prepare(ask)
    trace.kb_version = prepared.kb_version
    question, stop = question_check(ask.question, prepared.matcher, trace)
    if stop is not None:
        yield replies.refuse_reply(ask, trace, "guard_input", stop)
        return
    standalone = await _standalone(ask, question, prepared, trace)
    # A short question after another may lean on it without saying so ("需要工具吗？"): its
    # answer depends on the conversation, so it is neither taken from nor put in the cache.
    contextual = not standalone.rewrite and bool(last_question(ask.turns)) and is_short(question)
    key = (
        None
        if contextual or not ask.settings.cache_seconds
        else _cache_key(ask, trace, standalone, prepared)
    )
    cached = await cache.answer_get(key) if key else None
    if cached is not None:
        trace.standalone, trace.rewrite = standalone.text, standalone.rewrite
        yield replies.cached_reply(ask, cached, prepared.matcher, trace)
        return
    candidates = await _candidates(ask, standalone.text, trace, prepared)
    written_in = _written_in(question, trace.language)
    if standalone.rewrite == "rules" and keeps_topic(question, written_in):
        candidates = await _on_the_earlier_topic(ask, question, candidates, trace, prepared)
    elif standalone.rewrite == "rules":
        standalone, candidates = await _alone_if_joined_found_the_old_topic(
            ask, question, standalone, candidates, trace, prepared
        )
    if contextual and _top(candidates) < ask.settings.answer_threshold:
        standalone, candidates = await _joined_if_better(
            ask, question, standalone, candidates, trace, prepared
        )
    trace.standalone, trace.rewrite = standalone.text, standalone.rewrite
    decision = decide(
        candidates,
        language=trace.language,
        faq_threshold=ask.settings.faq_threshold,
        answer_threshold=ask.settings.answer_threshold,
        max_passages=ask.settings.max_passages,
    )
    trace.thresholds = {"faq": ask.settings.faq_threshold, "answer": ask.settings.answer_threshold}
    replies.decision_note(trace, decision, candidates)
    if decision.kind == "faq":
        yield replies.faq_reply(ask, decision.hits[0], prepared.matcher, trace)
        return
    if decision.kind == "abstain":
        yield await _abstain(ask, trace, decision.reason, prepared)
        return
    passages = passages_check(decision.hits, prepared.matcher, trace)
    if not passages:
        yield await _abstain(ask, trace, "excluded", prepared)
        return
    async with aclosing(_generate(ask, standalone, passages, prepared, trace, key)) as events:
        async for event in events:
            yield event


def _cache_key(ask: Ask, trace: Trace, standalone: Standalone, prepared: _Prepared) -> str:
    return cache.answer_key(
        site_id=ask.site_id or 0,
        language=trace.language,
        question=cache_form(standalone.text),
        kb_version=prepared.kb_version,
        route=prepared.route_key,
        settings_stamp=_settings_stamp(ask),
    )


async def _candidates(ask: Ask, text: str, trace: Trace, prepared: _Prepared) -> list[Hit]:
    """The hits for ``text`` the answer may use (``usable``: the languages it reads), best first."""
    hits = await database_sync_to_async(_search)(text, ask.collection_ids)
    return usable(hits, language=trace.language, question=text, cross_language=prepared.has_model)


async def _joined_if_better(
    ask: Ask,
    question: str,
    alone: Standalone,
    candidates: list[Hit],
    trace: Trace,
    prepared: _Prepared,
) -> tuple[Standalone, list[Hit]]:
    """A weak short question joined to the one before, if that answers it where alone it
    would not.

    Not a question naming a product code: it has its own subject ("What is the warranty on
    LM-3307?" after a shipping question). And only when joined it is answered: declined
    either way, the visitor's own words are what Knowledge gaps record and prefill, not
    the two questions glued together (0.495 joined against 0.489 alone was kept).
    """
    if _names_a_code(question):
        return alone, candidates
    previous = last_question(ask.turns)
    joined = rewrite_by_rules(question, previous)
    joined_candidates = await _candidates(ask, joined.text, trace, prepared)
    if (
        _top(joined_candidates) >= ask.settings.answer_threshold
        and _top(joined_candidates) > _top(candidates)
        and _covers_new_words(joined_candidates[0], question, previous)
    ):
        return joined, joined_candidates
    return alone, candidates


async def _alone_if_joined_found_the_old_topic(
    ask: Ask,
    question: str,
    joined: Standalone,
    candidates: list[Hit],
    trace: Trace,
    prepared: _Prepared,
) -> tuple[Standalone, list[Hit]]:
    """A follow-up joined by the rules whose best hit has none of its own words ("What about
    refunds?" after a delivery question finding delivery times again) changed the topic: it is
    searched alone, and answered so if that finds its words."""
    previous = last_question(ask.turns)
    if candidates and _covers_new_words(candidates[0], question, previous):
        return joined, candidates
    alone = await _candidates(ask, question, trace, prepared)
    if alone and _covers_new_words(alone[0], question, previous):
        return Standalone(question), alone
    return joined, candidates


async def _on_the_earlier_topic(
    ask: Ask, question: str, candidates: list[Hit], trace: Trace, prepared: _Prepared
) -> list[Hit]:
    """The hits of a joined follow-up that only narrows the question before ("and for
    electronics?" after a returns question), without those found by its own words alone: the
    electronic invoice matches "electronics", and is not about returns.

    When no hit left says anything about the narrower thing and they are too weak to answer,
    what applies is the earlier question's answer, judged as it was: the follow-up's words,
    in no returns passage, took "What is your return policy?" from 0.53 to 0.49 joined, and
    it was declined. Only for a thing the help centre mentions (every new word of the
    follow-up is in some hit) without an entry of its own (no such hit has them in its
    title): "and for invoices?" may ask about invoices, and stays judged joined. A follow-up
    adding a word no passage has ("and for the stock market?": items go back into stock, no
    market) is about nothing the help centre covers: no hits.
    """
    previous = last_question(ask.turns)
    named = _new_words(question, previous)
    if named & await database_sync_to_async(words_unknown)(
        query=question, collections=ask.collection_ids
    ):
        # "and for Paris?" after a warranty question: the help centre has nothing to say about
        # it, and the earlier question's words carried the joined search over the threshold.
        return []
    kept = [
        hit
        for hit in candidates
        if not _covers_new_words(hit, question, previous) or _covers_old_words(hit, previous)
    ]
    naming = [hit for hit in candidates if _covers_new_words(hit, question, previous)]
    if (
        _top(kept) >= ask.settings.answer_threshold
        or not named
        or not _mentioned(named, candidates)
        or any(hit in kept or _titled(hit, question) for hit in naming)
    ):
        return kept
    earlier = await _candidates(ask, previous, trace, prepared)
    return earlier if _top(earlier) > _top(kept) else kept


def _new_words(question: str, previous: str) -> set[str]:
    """The words ``question`` adds to ``previous`` that say something (not "and", "for")."""
    before = set(words(previous))
    return {word for word in words(question) if word not in before and word not in FUNCTION_WORDS}


def _mentioned(named: set[str], hits: Sequence[Hit]) -> bool:
    """Every word of ``named`` is one the hits matched, word by word: a multi-word synonym
    ("smart bulb") is matched as one surface."""
    matched = {word for hit in hits for term in _content_terms(hit) for word in words(term)}
    return named <= matched


def _titled(hit: Hit, question: str) -> bool:
    """The hit's title or headings have a word of ``question``: it is an entry about that."""
    return bool(set(terms(question)) & set(terms(" ".join((hit.title, *hit.heading_path)))))


def _names_a_code(question: str) -> bool:
    """``question`` names a code as codes are written (LM-3307, lm3307; not "in 30")."""
    folded = unicodedata.normalize("NFKC", question).casefold()
    return any(not is_spaced(match) for match in CODE.finditer(folded))


def _top(candidates: Sequence[Hit]) -> float:
    return candidates[0].confidence if candidates else 0.0


def _covers_new_words(hit: Hit, question: str, previous: str) -> bool:
    """The hit matches a word the new question adds, not only the earlier question's words.

    Otherwise joining "要发票吗？" to "保修多久？" would only find the warranty again.
    """
    asked, before = question.casefold(), previous.casefold()
    return any(term in asked and term not in before for term in _content_terms(hit))


def _covers_old_words(hit: Hit, previous: str) -> bool:
    """The hit matches a word of the earlier question (its topic)."""
    before = previous.casefold()
    return any(term in before for term in _content_terms(hit))


def _content_terms(hit: Hit) -> list[str]:
    """The question's words the hit matched, folded, that say something about the topic."""
    return [
        term.casefold()
        for term in hit.matched_terms
        # Particles (吗, 呢) and function words say nothing about the topic.
        if len(term) > 1 and term.casefold() not in FUNCTION_WORDS
    ]


def _language(ask: Ask) -> str:
    """The turn's language: the message's, or for a fragment in the other language the
    conversation's (``turn_language``), as ``conversation_language_follow`` holds it."""
    follows = bool(last_question(ask.turns))
    return turn_language(ask.question, established=ask.fallback_language, follows=follows)


def _written_in(question: str, language: str) -> str:
    """The language ``question`` is written in, which says how it leans on the one before
    ("and for electronics?" in a Chinese turn is an English follow-up)."""
    return language_detect(question, fallback=language)


def _offered_a_person(ask: Ask) -> bool:
    """The bot's last answer said it did not know and offered a person."""
    return ask.previous_decision == AnswerAudit.Decision.ABSTAIN


def _search(question: str, collection_ids: Sequence[int]) -> list[Hit]:
    return passages_search(query=question, collections=collection_ids, limit=SEARCH_LIMIT)


def _settings_stamp(ask: Ask) -> str:
    updated = ask.settings.updated_at
    return updated.isoformat() if updated else "defaults"


async def _standalone(ask: Ask, question: str, prepared: _Prepared, trace: Trace) -> Standalone:
    """The question, or for a follow-up its standalone form (by the model when there is one)."""
    previous = last_question(ask.turns)
    if not previous or not is_follow_up(question, _written_in(question, trace.language)):
        return Standalone(question)
    if prepared.has_model:
        rewritten = await _rewrite_with_model(ask, question, trace)
        if rewritten:
            return Standalone(rewritten, "model")
    return rewrite_by_rules(question, previous)


async def _rewrite_with_model(ask: Ask, question: str, trace: Trace) -> str:
    """The model's standalone form of a follow-up, or "" (the rules take over)."""
    request = ChatRequest(
        messages=rewrite_messages(
            history=window(ask.turns, budget=max(ask.settings.memory_tokens, 200)),
            question=question,
        ),
        language=trace.language,
        question=question,
        temperature=0.0,
        max_tokens=120,
    )
    done: Done | None = None
    stream = chat_stream(site_id=ask.site_id, request=request, conversation_id=ask.conversation_id)
    async with aclosing(stream) as events:
        async for event in events:
            if isinstance(event, Done):
                done = event
    # The offline answerer, last in a chain, has nothing to quote here: its "" means no rewrite.
    if done is None or done.outcome != "complete":
        return ""
    trace.input_tokens += done.usage.input_tokens
    trace.output_tokens += done.usage.output_tokens
    trace.call_ids.append(done.call_id)
    text = " ".join(done.text.split()).strip("\"'\u201c\u201d\u300c\u300d")
    return text if len(text) <= REWRITE_MAX_CHARS else ""


async def _generate(
    ask: Ask,
    standalone: Standalone,
    passages: Sequence[Hit],
    prepared: _Prepared,
    trace: Trace,
    key: str | None,
) -> AsyncGenerator[AnswerEvent, None]:
    """Stream the model's answer from ``passages``; end with the checked answer or a fallback."""
    available = {n: replies.citation_of(hit, n) for n, hit in enumerate(passages, start=1)}
    request = ChatRequest(
        messages=answer_messages(
            site_name=ask.site_name,
            persona=ask.settings.persona,
            language=trace.language,
            history=window(ask.turns, budget=ask.settings.memory_tokens),
            question=standalone.text,
            passages=[
                PromptPassage(n, available[n]["title"], hit.text or hit.title)
                for n, hit in enumerate(passages, start=1)
            ],
        ),
        documents=tuple(
            Document(
                n,
                hit.title,
                hit.text or hit.title,
                hit.url,
                hit.language,
                heading=hit.heading_path[-1] if hit.heading_path and hit.opens_section else "",
            )
            for n, hit in enumerate(passages, start=1)
        ),
        language=trace.language,
        question=standalone.text,
        focus=standalone.focus,
        temperature=TEMPERATURE,
    )
    generation = Generation(
        request=request,
        site_id=ask.site_id,
        conversation_id=ask.conversation_id,
        matcher=prepared.matcher,
        available=available,
        strict=ask.settings.strict_citations,
        trace=trace,
    )
    yield AnswerStarted()
    async with aclosing(generation.events()) as events:
        async for event in events:
            yield event
    result = generation.result
    if result is None:
        raise RuntimeError("the generation ended without a result")
    if result.shown and result.status != "answered":
        yield AnswerReset()
    if result.status == "answered" and result.answer is not None:
        cited = [passages[n - 1].passage_id for n in result.answer.cited]
        replies.passages_mark(trace, used=[hit.passage_id for hit in passages], cited=cited)
        final = AnswerFinal(text=result.answer.text, citations=result.answer.citations)
        if key:
            stored = cache.CachedAnswer(
                final.text, final.citations, trace.decision, trace.passages, trace.route
            )
            await cache.answer_set(key, stored, seconds=ask.settings.cache_seconds)
        yield final
    elif result.status in ("empty", "uncited"):
        reason = "nothing_quoted" if result.status == "empty" else "uncited"
        yield await _abstain(ask, trace, reason, prepared)
    elif result.status in ("stopped", "refused"):
        reason = "guard_output" if result.status == "stopped" else "provider_filter"
        yield replies.refuse_reply(ask, trace, reason, result.term)
    else:
        yield replies.unavailable_reply(ask, trace)
