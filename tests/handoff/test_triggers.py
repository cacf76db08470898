"""Keyword triggers: a visitor asking for a human, or strongly frustrated, in their own words."""

from __future__ import annotations

import pytest

from apps.handoff.models import DEFAULT_FRUSTRATION_PHRASES, DEFAULT_REQUEST_PHRASES
from apps.handoff.triggers import KeywordMatch, is_bare_request, keyword_trigger, phrases_parse

REQUEST = phrases_parse(DEFAULT_REQUEST_PHRASES)
FRUSTRATION = phrases_parse(DEFAULT_FRUSTRATION_PHRASES)


def trigger(text: str) -> KeywordMatch | None:
    return keyword_trigger(text, request_phrases=REQUEST, frustration_phrases=FRUSTRATION)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("转人工", "转人工"),
        ("我要找人工客服！", "人工客服"),
        ("客服在吗", "客服"),
        ("Can I talk to a human please", "human"),
        ("I want an AGENT", "agent"),
        ("ＡＧＥＮＴ", "agent"),
        ("get me a real   person", "real person"),
        ("Can I speak with someone?", "speak with someone"),
        ("I'd like to speak to someone about my order", "speak to someone"),
        ("can I talk to someone", "talk to someone"),
        ("Can I talk to a person?", "talk to a person"),
        ("有人吗？", "有人吗"),
        ("请问有人在吗", "有人在吗"),
        ("我要找工作人员", "找工作人员"),
    ],
)
def test_asking_for_a_human_is_a_customer_request(text, phrase):
    assert trigger(text) == KeywordMatch(reason="customer_request", phrase=phrase)


@pytest.mark.parametrize(
    "text",
    [
        "What does the user-agent header do?",
        "Is this an agentic workflow?",
        "humanity is great",
        "How long does shipping take?",
        "退货政策是什么",
        # "someone" alone is not a request: these are questions for the bot.
        "Can someone tell me the price?",
        "Is there someone who can deliver on Sunday?",
        "Can I gift it to someone?",
        "找工作需要什么材料",
    ],
)
def test_ordinary_questions_do_not_trigger(text):
    assert trigger(text) is None


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("这服务太差了", "太差"),
        ("This is useless", "useless"),
        ("My lamp arrived broken and I am furious", "furious"),
        ("I'm really angry about this", "angry"),
        ("This is ridiculous", "ridiculous"),
        ("Unacceptable!", "unacceptable"),
        ("气死我了", "气死"),
        ("我要投诉", "投诉"),
        ("我很生气", "生气"),
        ("给你们差评", "差评"),
    ],
)
def test_strong_frustration_is_negative_sentiment(text, phrase):
    assert trigger(text) == KeywordMatch(reason="negative_sentiment", phrase=phrase)


def test_asking_for_a_human_wins_over_frustration():
    assert trigger("太差了，转人工") == KeywordMatch(reason="customer_request", phrase="转人工")


def test_phrases_are_one_per_line_and_blank_lines_are_ignored():
    assert phrases_parse("  人工 \n\nhuman\n   \n") == ["人工", "human"]
    assert keyword_trigger("help", request_phrases=[], frustration_phrases=[]) is None


@pytest.mark.parametrize(
    "text", ["Can I speak with someone?", "talk to a person please", "有人在吗？"]
)
def test_the_new_requests_say_nothing_else_so_a_subject_skips_them(text):
    assert is_bare_request(text, REQUEST)
    assert not is_bare_request("Can I speak with someone about a refund?", REQUEST)
