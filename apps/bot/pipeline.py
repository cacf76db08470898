"""The answerer the chat runs (``settings.CSBOT_ANSWERER``): the answering pipeline.

``answer`` follows the contract of ``apps/bot/answer.py``. It loads what the question needs,
runs the core (``respond``), stores the audit (decision, reason, passages and scores, route,
usage, guard verdicts) before the final answer goes out, and once ``reply_run`` has stored that
answer — when it closes this generator — links the audit and the model usage to the stored
message and asks for a handoff if the answer called for one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing

from channels.db import database_sync_to_async
from django.utils import timezone

from apps.bot.answer import AnswerDelta, AnswerEvent, AnswerFinal, AnswerReset
from apps.bot.attachments import attachment_reply
from apps.bot.models import AnswerAudit
from apps.bot.normalise import language_detect
from apps.bot.records import answer_audit_create, answer_audit_reply_link
from apps.bot.replies import nobody_there_reply, unavailable_reply
from apps.bot.respond import respond
from apps.bot.selectors import question_context
from apps.bot.trace import Ask, Trace
from apps.chat.models import Conversation
from apps.handoff.selectors import handoff_possible, handoff_settings_get
from apps.handoff.services import handoff_request
from apps.handoff.services.requests import conversation_language_follow
from apps.knowledge.selectors import collection_ids_for_site
from apps.llm.services import usage_flush, usage_link_message

logger = logging.getLogger(__name__)


def ask_for(*, conversation_id: int, question_id: int) -> Ask:
    """Everything the core needs about one visitor message, read in one go."""
    context = question_context(conversation_id=conversation_id, question_id=question_id)
    site = context.site
    return Ask(
        question=context.question,
        settings=context.settings,
        site_name=site.name,
        site_id=site.pk,
        collection_ids=collection_ids_for_site(site_id=site.pk),
        turns=tuple(context.turns),
        fallback_language=context.fallback_language,
        conversation_language=context.conversation.language,
        previous_decision=context.previous_decision,
        abstentions=context.abstentions,
        abstain_limit=handoff_settings_get(site=site).abstain_limit,
        conversation_id=conversation_id,
        # Otherwise an agent holds the conversation and asked for a suggestion (agent assist).
        may_hand_off=context.conversation.status == Conversation.Status.BOT,
    )


async def _attachment_only(ask: Ask, trace: Trace) -> AsyncGenerator[AnswerEvent, None]:
    yield await attachment_reply(ask, trace)


async def answer(*, conversation_id: int, question_id: int) -> AsyncGenerator[AnswerEvent, None]:
    started = time.monotonic()
    ask = await database_sync_to_async(ask_for)(
        conversation_id=conversation_id, question_id=question_id
    )
    await _language_record(ask, conversation_id)
    trace = Trace()
    final: AnswerFinal | None = None
    shown = False
    try:
        # A blank question is a file sent alone (the socket refuses blank texts).
        core = respond(ask, trace) if ask.question.strip() else _attachment_only(ask, trace)
        async with aclosing(core) as events:
            async for event in events:
                if isinstance(event, AnswerFinal):
                    final = event
                    break
                if isinstance(event, AnswerDelta):
                    shown = True
                elif isinstance(event, AnswerReset):
                    shown = False
                yield event
    except Exception:
        logger.exception("answering message %s failed", question_id)
        if shown:
            yield AnswerReset()
        final = unavailable_reply(ask, trace)
        trace.reason = "error"
    if final is None:
        raise RuntimeError("the answering core ended without an AnswerFinal")
    if (
        trace.handoff
        and ask.may_hand_off
        and ask.site_id is not None
        and not await database_sync_to_async(handoff_possible)(
            site_id=ask.site_id, at=timezone.now()
        )
    ):
        final = nobody_there_reply(trace, final)
    audit = await database_sync_to_async(answer_audit_create)(
        conversation_id=conversation_id,
        site_id=ask.site_id,
        question_id=question_id,
        trace=trace,
        citations=final.citations,
        latency_ms=round((time.monotonic() - started) * 1000),
        for_agent=not ask.may_hand_off,
    )
    try:
        yield final
    finally:
        # Runs when reply_run closes the generator, after it stored the final answer.
        await _after_reply(audit, trace, ask)


async def _language_record(ask: Ask, conversation_id: int) -> None:
    """Hold the conversation in this question's language when it shows one, as the visitor's
    socket does on receiving it (``conversation_language_follow``), for answers asked otherwise.
    """
    if (
        language_detect(ask.question, fallback=ask.conversation_language)
        != ask.conversation_language
    ):
        await database_sync_to_async(conversation_language_follow)(
            conversation_id=conversation_id, text=ask.question
        )


def _reply_link(audit: AnswerAudit, call_ids: list[uuid.UUID]) -> None:
    """Point the audit and the answer's model usage at the stored reply, in one database call."""
    reply_id = answer_audit_reply_link(audit=audit)
    if reply_id is not None and call_ids:
        usage_link_message(call_ids=call_ids, message_id=reply_id)


async def _after_reply(audit: AnswerAudit, trace: Trace, ask: Ask) -> None:
    """Link the stored reply and its model usage; hand over if the answer said so. Never raises:
    the answer is already with the visitor."""
    try:
        if not ask.may_hand_off:
            return
        if trace.call_ids:
            # Usage records are written in the background: let this answer's land first.
            await usage_flush()
        await database_sync_to_async(_reply_link)(audit, trace.call_ids)
        if trace.handoff:
            await database_sync_to_async(handoff_request)(
                conversation_id=audit.conversation_id,
                reason=trace.handoff,
                detail=trace.handoff_detail,
            )
    except Exception:
        logger.exception("after answering message %s", audit.question_id)
