"""The bot's conversation manners: pleasantries answered in kind, the "nobody is there" notice
told once, and every line of a turn in the turn's language."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.analytics.selectors import knowledge_gaps, period_for
from apps.bot.models import AnswerAudit
from apps.bot.normalise import language_detect
from apps.bot.smalltalk import small_talk_kind
from apps.bot.texts import text_for
from apps.chat.models import Conversation, ConversationEvent, Message
from apps.handoff.services import visitor_message_receive
from apps.handoff.services.presence import agent_session_close, agent_session_open
from apps.handoff.texts import text_for as handoff_text
from apps.knowledge.models import Collection, Status
from apps.knowledge.services.content import faq_create
from tests.bot.conftest import replied

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Hello!", "greeting"),
        ("你好", "greeting"),
        ("您好，在吗？", "greeting"),
        ("hello again", "greeting"),
        ("Hi there again!", "greeting"),
        ("I'm back", "greeting"),
        ("我又回来了", "greeting"),
        ("thanks!", "thanks"),
        ("谢谢", "thanks"),
        ("好的，谢谢", "thanks"),
        ("Thank you so much", "thanks"),
        ("bye", "goodbye"),
        ("再见", "goodbye"),
        ("Hello, can you help me?", "help"),
        ("能帮我吗？", "help"),
        ("are you a bot?", "bot"),
        ("你是机器人吗", "bot"),
    ],
)
def test_pleasantries_are_told_apart_by_the_whole_message(text, kind):
    assert small_talk_kind(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "hi, how do I return a lamp?",
        "你好，我想退货",
        "thanks, and how long is the warranty?",
        "How can I get help with returns?",
        "this is not helpful",
        "I want to send it back",
        "back cover missing",
    ],
)
def test_a_pleasantry_with_a_question_is_a_question(text):
    assert small_talk_kind(text) == ""


def _audits(conversation: Conversation) -> list[tuple[str, str, str]]:
    return list(
        AnswerAudit.objects.filter(conversation=conversation)
        .order_by("question__seq")
        .values_list("decision", "reason", "handoff")
    )


def _after(conversation: Conversation, question: Message) -> list[tuple[str, str]]:
    return list(
        Message.objects.filter(conversation=conversation, seq__gt=question.seq)
        .order_by("seq")
        .values_list("author_kind", "text")
    )


async def test_greetings_and_thanks_are_answered_in_kind_and_are_no_misses(
    help_centre, conversation, site
):
    # An English browser: "hi" shows no language of its own.
    await database_sync_to_async(Conversation.objects.filter(pk=conversation.pk).update)(
        language="en"
    )
    hi = await replied(conversation, "hi")
    thanks = await replied(conversation, "谢谢")
    help_me = await replied(conversation, "Hello, can you help me?")
    assert await database_sync_to_async(_after)(conversation, hi) == [
        ("bot", text_for("small_talk_greeting", "en")),
        ("visitor", "谢谢"),
        ("bot", text_for("small_talk_thanks", "zh-hans")),
        ("visitor", "Hello, can you help me?"),
        ("bot", text_for("small_talk_help", "en")),
    ]
    assert (
        await database_sync_to_async(_audits)(conversation)
        == [
            ("small_talk", "small_talk", ""),
        ]
        * 3
    )
    # Nothing of handoff happened, and the next miss is the first of a run: a person offered.
    miss = await replied(conversation, "Can I pay with bitcoin?")
    assert (await database_sync_to_async(_after)(conversation, miss))[0] == (
        "bot",
        text_for("abstain", "en"),
    )
    handed = await database_sync_to_async(
        ConversationEvent.objects.filter(
            conversation=conversation, kind__startswith="handoff."
        ).exists
    )()
    assert not handed
    gaps = await database_sync_to_async(knowledge_gaps)(
        site=site, period=period_for(site=site, now=timezone.now(), days=7)
    )
    assert [group.question for group in gaps] == ["Can I pay with bitcoin?"]
    assert thanks.seq < help_me.seq


async def test_a_bare_yes_or_no_with_nothing_offered_is_acknowledged_not_searched(
    help_centre: Collection, conversation
):
    # Searched, "yes" would be answered with this entry: its answer opens with the word.
    await database_sync_to_async(faq_create)(
        collection=help_centre,
        question="Can I cancel my order?",
        answer="Yes, until it ships: go to My orders and choose Cancel order.",
        language="en",
        status=Status.PUBLISHED,
        external_id="faq-cancel-en",
    )
    warranty = await replied(conversation, "How long is the warranty?")
    await replied(conversation, "yes")
    await replied(conversation, "no")
    after = await database_sync_to_async(_after)(conversation, warranty)
    assert after[1:] == [
        ("visitor", "yes"),
        ("bot", text_for("small_talk_acknowledged", "en")),
        ("visitor", "no"),
        ("bot", text_for("small_talk_acknowledged", "en")),
    ]
    assert (await database_sync_to_async(_audits)(conversation))[1:] == [
        ("small_talk", "small_talk", "")
    ] * 2


async def test_a_greeting_with_a_question_in_it_is_searched(help_centre, conversation):
    await replied(conversation, "hi, how long does delivery take?")
    decision = await database_sync_to_async(
        AnswerAudit.objects.filter(conversation=conversation).values_list("decision", flat=True).get
    )()
    assert decision != "small_talk"


def _system_lines(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, author_kind="system")
        .order_by("seq")
        .values_list("text", flat=True)
    )


async def test_with_nobody_online_the_visitor_is_told_once_and_then_pointed_to_the_form(
    help_centre, conversation
):
    await replied(conversation, "Can I pay with bitcoin?")
    await replied(conversation, "Do you sell garden furniture?")
    third = await replied(conversation, "Do you sell sofas?")
    fourth = await replied(conversation, "Can I pay with bitcoin?")
    nobody = handoff_text("unavailable_nobody_online", "en")
    assert await database_sync_to_async(_system_lines)(conversation) == [nobody]
    unavailable = await database_sync_to_async(
        ConversationEvent.objects.filter(
            conversation=conversation, kind="handoff.unavailable"
        ).count
    )()
    assert unavailable == 1
    for question in (third, fourth):
        reply = (await database_sync_to_async(_after)(conversation, question))[0]
        assert reply == ("bot", text_for("abstain_nobody", "en"))
    assert "talk to someone" not in text_for("abstain_nobody", "en")
    assert "转接" not in text_for("abstain_nobody", "zh-hans")


async def test_an_agent_coming_online_ends_the_unavailability(help_centre, conversation, agent):
    await replied(conversation, "Can I pay with bitcoin?")
    await replied(conversation, "Do you sell garden furniture?")
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.console.mei")
    asked = await replied(conversation, "Do you sell sofas?")
    # A third miss in a row: handed to her, not told again that nobody is there.
    assert (await database_sync_to_async(_after)(conversation, asked))[0] == (
        "bot",
        text_for("abstain_handoff", "en"),
    )
    await database_sync_to_async(agent_session_close)(user=agent, channel_name="test.console.mei")


async def test_every_line_of_a_turn_speaks_the_language_of_the_visitors_message(
    help_centre, conversation
):
    await replied(conversation, "hi")
    await replied(conversation, "你们卖沙发吗？")
    second = await replied(conversation, "可以用比特币付款吗？")
    lines = await database_sync_to_async(_after)(conversation, second)
    assert lines == [
        ("bot", text_for("abstain_alone", "zh-hans")),
        ("system", handoff_text("unavailable_nobody_online", "zh-hans")),
    ]


def test_asking_for_a_person_in_chinese_from_an_english_browser_is_answered_in_chinese(
    conversation, agent_online
):
    Conversation.objects.filter(pk=conversation.pk).update(language="en")
    visitor_message_receive(conversation_id=conversation.pk, client_id="c-1", text="转人工")
    system = _system_lines(conversation)
    assert system[0] == handoff_text("waiting", "zh-hans")


def test_a_chinese_clause_with_english_words_is_chinese():
    assert language_detect("我想退货，but I lost the receipt", fallback="en") == "zh-hans"


def test_a_handoff_asked_for_again_while_nobody_is_there_is_not_announced_again(conversation):
    from apps.handoff.services import handoff_request

    for _ in range(3):
        outcome = handoff_request(conversation_id=conversation.pk, reason="model_unavailable")
        assert outcome.state == "unavailable"
    assert _system_lines(conversation) == [
        handoff_text("unavailable_nobody_online", conversation.site.default_language)
    ]


def test_a_follow_up_after_a_pleasantry_leans_on_the_question_before_it():
    from apps.bot.memory import Turn, last_question

    turns = [
        Turn("user", "How long does delivery take?"),
        Turn("assistant", "Two to three days."),
        Turn("user", "thanks!"),
        Turn("assistant", text_for("small_talk_thanks", "en")),
    ]
    assert last_question(turns) == "How long does delivery take?"
