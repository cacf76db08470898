"""With a ticket already open (a message left), the bot offers no person again."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.bot.models import AnswerAudit
from apps.bot.texts import text_for
from apps.chat.models import ConversationEvent, Message
from apps.handoff.models import Ticket
from apps.handoff.services import ticket_leave_message
from apps.handoff.texts import text_for as handoff_text_for
from tests.bot.conftest import replied

pytestmark = [pytest.mark.django_db(transaction=True)]


def bot_reply_to(question: Message) -> str:
    return Message.objects.get(
        conversation_id=question.conversation_id, author_kind="bot", seq=question.seq + 1
    ).text


def audit_of(question: Message) -> AnswerAudit:
    return AnswerAudit.objects.get(question=question, for_agent=False)


def unavailable_events(conversation) -> int:
    return ConversationEvent.objects.filter(
        conversation=conversation, kind="handoff.unavailable"
    ).count()


async def left_a_message(conversation) -> None:
    """Nobody online: the bot's offer taken, the form shown, a message left."""
    await replied(conversation, "Can I pay with bitcoin?")
    await replied(conversation, "yes")
    await database_sync_to_async(ticket_leave_message)(
        conversation_id=conversation.pk,
        client_id="c-left-0001",
        name="Li Lei",
        email="li@example.com",
        text="Can I pay with bitcoin? Please email me.",
    )
    assert await database_sync_to_async(unavailable_events)(conversation) == 1


async def test_after_a_left_message_the_bot_says_the_team_has_it_instead_of_offering_a_person(
    help_centre, conversation
):
    await left_a_message(conversation)
    question = await replied(conversation, "Do you sell garden furniture?")
    reply = await database_sync_to_async(bot_reply_to)(question)
    assert reply == (
        text_for("abstain_alone", "en")
        + " Our team already has your message and will reply here and by email to li@example.com."
    )
    assert "talk to someone" not in reply

    # A yes anyway does not show the form again: no second unavailable, no second ticket.
    yes = await replied(conversation, "yes")
    assert await database_sync_to_async(bot_reply_to)(yes) == handoff_text_for(
        "team_has_it_email", "en", email="li@example.com"
    )
    audit = await database_sync_to_async(audit_of)(yes)
    assert (audit.decision, audit.handoff) == ("handoff", "")
    assert await database_sync_to_async(unavailable_events)(conversation) == 1
    assert await Ticket.objects.acount() == 1


async def test_in_chinese_the_bot_says_the_team_has_it_too(help_centre, conversation):
    await left_a_message(conversation)
    question = await replied(conversation, "你们卖沙发吗？")
    reply = await database_sync_to_async(bot_reply_to)(question)
    assert reply == (
        text_for("abstain_alone", "zh-hans")
        + "我们的客服团队已收到您的留言，会在这里回复您，并发送邮件至 li@example.com。"
    )


async def test_a_ticket_without_a_left_message_promises_no_email(help_centre, conversation):
    # A chat ticket nobody took (its agents went offline): the team replies in the chat only.
    await database_sync_to_async(Ticket.objects.create)(
        site_id=conversation.site_id,
        conversation=conversation,
        visitor_id=conversation.visitor_id,
        reason=Ticket.Reason.CUSTOMER_REQUEST,
        contact_email="old@example.com",
    )
    question = await replied(conversation, "Do you sell garden furniture?")
    reply = await database_sync_to_async(bot_reply_to)(question)
    assert reply.endswith(" Our team already has your message and will reply here.")
