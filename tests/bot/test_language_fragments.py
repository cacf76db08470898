"""A short follow-up fragment in the other language keeps the conversation's language; a whole
question in it switches (the demo shop, as a tester wrote to it)."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from apps.bot.models import AnswerAudit
from apps.bot.normalise import is_fragment
from apps.chat.models import Conversation
from apps.chat.services import conversation_open, visitor_create
from apps.handoff.services.requests import visitor_message_receive
from tests.bot.conftest import answered

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chinese_conversation(settings, site):
    """The demo help centre, and a conversation from a zh-CN browser."""
    settings.CSBOT_EMBEDDINGS = "off"
    call_command("kb_demo_load", "--site", site.public_key, stdout=None)
    conversation = conversation_open(visitor=visitor_create(site=site))
    Conversation.objects.filter(pk=conversation.pk).update(language="zh-hans")
    return conversation


def test_an_english_fragment_after_a_chinese_question_is_answered_in_chinese(
    chinese_conversation,
):
    async_to_sync(answered)(chinese_conversation, "保修多久？")
    turn = async_to_sync(answered)(chinese_conversation, "and for electronics?")
    audit = AnswerAudit.objects.get(question=turn.question)
    chinese_conversation.refresh_from_db()
    assert chinese_conversation.language == "zh-hans"
    assert audit.language == "zh-hans"
    # Read as a follow-up of the warranty question, not searched alone.
    assert audit.rewrite == "rules"
    # One language: the bot's opening and the quotes are Chinese, no "From our help centre:".
    assert audit.decision == "answer", (audit.reason, audit.top_confidence)
    assert turn.final.text.startswith("根据帮助中心："), turn.final.text
    assert "From our help centre" not in turn.final.text
    assert "\u201c" not in turn.final.text


def test_a_whole_english_question_in_a_chinese_conversation_switches_to_english(
    chinese_conversation,
):
    async_to_sync(answered)(chinese_conversation, "保修多久？")
    turn = async_to_sync(answered)(chinese_conversation, "How long does shipping take?")
    audit = AnswerAudit.objects.get(question=turn.question)
    chinese_conversation.refresh_from_db()
    assert chinese_conversation.language == "en"
    assert audit.language == "en"
    assert audit.decision in ("faq", "answer"), (audit.reason, audit.top_confidence)
    assert not re.search(r"[\u4e00-\u9fff]", turn.final.text), turn.final.text


@pytest.mark.parametrize(
    ("text", "language", "fragment"),
    [
        ("and for electronics?", "en", True),
        ("what about the warranty?", "en", True),
        ("on smart bulbs?", "en", True),
        ("那发票呢？", "zh-hans", True),
        ("Is it waterproof?", "en", False),
        ("and does it come in white?", "en", False),
        ("How long does shipping take?", "en", False),
        ("可以用比特币付款吗？", "zh-hans", False),
    ],
)
def test_a_fragment_is_a_short_follow_up_without_a_clause_of_its_own(text, language, fragment):
    assert is_fragment(text, language) is fragment


def _receive(conversation, text: str, n: int) -> str:
    visitor_message_receive(conversation_id=conversation.pk, client_id=f"c-{n}", text=text)
    conversation.refresh_from_db()
    return conversation.language


def test_the_conversation_and_so_its_ticket_stay_chinese_after_an_english_fragment(conversation):
    Conversation.objects.filter(pk=conversation.pk).update(language="zh-hans")
    assert _receive(conversation, "保修多久？", 1) == "zh-hans"
    assert _receive(conversation, "and for electronics?", 2) == "zh-hans"
    assert _receive(conversation, "and for lamps?", 3) == "zh-hans"
    assert _receive(conversation, "Do you ship to Hong Kong?", 4) == "en"


def test_a_fragment_as_the_first_message_shows_its_language(conversation):
    # Nothing earlier to follow: the fragment is all the visitor has written.
    Conversation.objects.filter(pk=conversation.pk).update(language="zh-hans")
    assert _receive(conversation, "and for electronics?", 1) == "en"
