"""A visitor's file with no words beside it: the bot cannot open files, so it says so.

A file with a caption is answered as the caption (the message's text); this is the reply to
a file alone. It is an "I don't know" (``abstain``), so the visitor's "yes" to the person it
offers is a handoff through the usual offer path (``respond``); with nobody to come, no
person is offered. With a ticket already open (a message left, say) the file is in that
ticket's transcript for the team: the visitor is told so, not asked to describe it.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.utils import timezone

from apps.bot.answer import AnswerFinal
from apps.bot.models import AnswerAudit
from apps.bot.replies import bot_line
from apps.bot.trace import Ask, Trace
from apps.core.lib.languages import CHINESE, ENGLISH
from apps.handoff.selectors import handoff_possible, ticket_active_for_conversation

REASON = "attachment"

_TEXTS = {
    "offer": {
        ENGLISH: "Sorry, I can't open attachments. Could you describe it in words, or would "
        "you like to talk to someone from our team?",
        CHINESE: "抱歉，我无法查看附件。您可以用文字描述一下，或者需要为您转接人工客服吗？",
    },
    "alone": {
        ENGLISH: "Sorry, I can't open attachments. Could you describe it in words?",
        CHINESE: "抱歉，我无法查看附件。您可以用文字描述一下吗？",
    },
    "added": {
        ENGLISH: "Thank you, your file has been added to your message for our team.",
        CHINESE: "谢谢，您的文件已添加到留言中，会一并转给客服团队。",
    },
}


def _lines_key(ask: Ask) -> str:
    """Which line answers the file: "added" to an open ticket's, else "offer" when someone
    could come, else "alone"."""
    if not ask.may_hand_off or ask.site_id is None:
        return "alone"
    if ask.conversation_id is not None and ticket_active_for_conversation(
        conversation_id=ask.conversation_id
    ):
        return "added"
    return "offer" if handoff_possible(site_id=ask.site_id, at=timezone.now()) else "alone"


async def attachment_reply(ask: Ask, trace: Trace) -> AnswerFinal:
    """Say the file cannot be opened, in the conversation's language, offering a person when
    one could come; or, with a ticket open, that the team has it."""
    # Nothing written to tell the language by: the conversation's, else the visitor's.
    trace.language = ask.fallback_language
    trace.decision, trace.reason = AnswerAudit.Decision.ABSTAIN, REASON
    lines = _TEXTS[await database_sync_to_async(_lines_key)(ask)]
    return bot_line(lines.get(trace.language) or lines[ENGLISH])
