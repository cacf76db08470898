"""Keyword triggers: a visitor asking for a human, or strongly frustrated, in their own words."""

from __future__ import annotations

import pytest

from apps.handoff.models import DEFAULT_FRUSTRATION_PHRASES, DEFAULT_REQUEST_PHRASES
from apps.handoff.triggers import KeywordMatch, keyword_trigger, phrases_parse

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
