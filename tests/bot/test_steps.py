"""The pipeline's pure steps: language, follow-ups, citations, memory and the decision."""

from __future__ import annotations

from dataclasses import replace

import pytest

from apps.bot.citations import answer_check, first_valid, normalise_markers
from apps.bot.decide import decide, usable
from apps.bot.memory import Turn, window
from apps.bot.normalise import (
    cache_form,
    is_affirmative,
    is_decline,
    is_follow_up,
    keeps_topic,
    language_detect,
    rewrite_by_rules,
)
from apps.bot.respond import _mentioned, _new_words
from apps.knowledge.selectors import Hit

SOURCES = {
    1: {"n": 1, "title": "Shipping", "url": "https://shop.example.com/s"},
    2: {"n": 2, "title": "Returns", "url": "/kb/help/2/"},
}


@pytest.mark.parametrize(
    ("text", "fallback", "expected"),
    [
        ("How long does delivery take?", "zh-hans", "en"),
        ("多久能收到货？", "en", "zh-hans"),
        ("LM-2041 多少钱？", "en", "zh-hans"),
        ("Does 顺丰 deliver to Hong Kong?", "zh-hans", "en"),
        ("ok", "zh-hans", "zh-hans"),
        ("LM-2041?", "en", "en"),
        ("？", "zh-hans", "zh-hans"),
    ],
)
def test_language_comes_from_the_words_or_the_conversation(text, fallback, expected):
    assert language_detect(text, fallback=fallback) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What about Xinjiang?", "en"),
        ("And to Hong Kong?", "en"),
        ("How much is it?", "en"),
        ("那新疆呢？", "zh-hans"),
        ("这个多少钱？", "zh-hans"),
        ("香港呢", "zh-hans"),
        ("for electronics?", "en"),
    ],
)
def test_follow_ups_are_recognised(text, language):
    assert is_follow_up(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How long does delivery take to Xinjiang?", "en"),
        ("Can I return a smart bulb I installed last week?", "en"),
        ("智能灯泡安装后还能退吗？", "zh-hans"),
        ("新疆几天能送到？", "zh-hans"),
    ],
)
def test_standalone_questions_are_left_alone(text, language):
    assert not is_follow_up(text, language)


@pytest.mark.parametrize(
    "text", ["And for electronics?", "on smart bulbs?", "What about in white?", "And to Hong Kong?"]
)
def test_a_prepositional_fragment_keeps_the_earlier_topic(text):
    assert keeps_topic(text, "en")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        # A new topic, or a question of its own.
        ("What about refunds?", "en"),
        ("And what about refunds?", "en"),
        ("In which cities do you deliver?", "en"),
        ("For how long is the warranty valid?", "en"),
        ("And for electronics, is the return window the same as for lamps?", "en"),
        # The same shape, narrowing nothing: idioms, and requests about the conversation.
        ("By the way", "en"),
        ("On second thought", "en"),
        ("For real?", "en"),
        ("At all?", "en"),
        ("In Chinese please", "en"),
        ("In English?", "en"),
        ("With an agent", "en"),
        ("to speak to someone", "en"),
        # "那退货呢？" changes the topic, "那新疆呢？" narrows it: only the search can tell.
        ("那新疆呢？", "zh-hans"),
    ],
)
def test_other_follow_ups_may_change_the_topic(text, language):
    assert not keeps_topic(text, language)


def test_rules_join_a_follow_up_to_the_question_it_leans_on():
    assert rewrite_by_rules("What about Xinjiang?", "How long is delivery?").text == (
        "How long is delivery? What about Xinjiang?"
    )
    assert rewrite_by_rules("那新疆呢？", "上海几天送达？").text == "上海几天送达？那新疆呢？"


def test_cache_form_folds_case_width_spaces_and_end_punctuation():
    assert cache_form("  How LONG  does it take？ ") == cache_form("how long does it take")
    assert cache_form("ＬＭ-２０４１ 多少钱？") == "lm-2041 多少钱"


@pytest.mark.parametrize("text", ["yes", "Yes please!", "好的", "嗯", "需要"])
def test_a_bare_yes_is_affirmative(text):
    assert is_affirmative(text)


@pytest.mark.parametrize("text", ["yes, but how much is shipping?", "好的，运费多少？", "no"])
def test_a_question_is_not_a_bare_yes(text):
    assert not is_affirmative(text)


@pytest.mark.parametrize(
    "text", ["no", "No thanks!", "no, thank you", "nope", "不用了，谢谢", "不用", "算了"]
)
def test_a_bare_no_is_a_decline(text):
    assert is_decline(text)


@pytest.mark.parametrize(
    "text", ["no, but how much is shipping?", "不用了，运费多少？", "yes", "不锈钢"]
)
def test_a_question_is_not_a_bare_no(text):
    assert not is_decline(text)


def test_loose_citation_markers_are_normalised():
    assert normalise_markers("a【1】 b［2］ c[1, 2] d[3，4]") == "a[1] b[2] c[1][2] d[3][4]"


def test_a_cited_number_without_a_passage_is_removed():
    checked = answer_check("Parcels ship in 48 h [1][7]. Returns within 30 days [9].", SOURCES)
    assert checked.text == "Parcels ship in 48 h [1]. Returns within 30 days."
    assert checked.invalid == (7, 9)
    assert checked.citations == [SOURCES[1]]


def test_citations_are_numbered_from_1_in_the_order_they_are_cited():
    checked = answer_check("退货 30 天内【2】，发货 48 小时内【1】。退货免费[2]。", SOURCES)
    assert checked.text == "退货 30 天内[1]，发货 48 小时内[2]。退货免费[1]。"
    assert checked.citations == [{**SOURCES[2], "n": 1}, {**SOURCES[1], "n": 2}]
    # The prompt's numbers stay known, for the audit of which passages were cited.
    assert checked.cited == (2, 1)
    assert answer_check("Returns are free [2].", SOURCES).text == "Returns are free [1]."


def test_text_without_invalid_markers_is_left_exactly_as_written():
    text = "Price : 99 yuan  (free shipping) [1]"
    assert answer_check(text, SOURCES).text == text


def test_first_valid_marker_skips_numbers_without_a_passage():
    assert first_valid("see [5] and [2] too", SOURCES) == len("see [5] and [2]")
    assert first_valid("no markers", SOURCES) is None


def test_memory_keeps_the_latest_turns_within_the_budget_starting_with_the_visitor():
    turns = [
        Turn("assistant", "Hi! How can I help?"),
        Turn("user", "Do you ship to Hong Kong?"),
        Turn("assistant", "Yes, for 30 yuan per order [1]."),
        Turn("user", "How long does it take?"),
        Turn("assistant", "3-5 working days [1]."),
    ]
    assert window(turns, budget=1000) == turns[1:]
    assert window(turns, budget=20) == turns[3:]
    assert window(turns, budget=0) == []


def test_memory_clips_one_very_long_turn():
    [turn] = window([Turn("user", "退货" * 1000)], budget=1000)
    assert turn.text.endswith("\u2026")
    assert len(turn.text) <= 301


def _hit(n: int, confidence: float, *, kind: str = "passage", language: str = "en") -> Hit:
    return Hit(
        passage_id=n,
        kind=kind,  # type: ignore[arg-type]
        collection_id=1,
        article_id=None if kind == "faq" else n,
        faq_id=n if kind == "faq" else None,
        external_id=f"e{n}",
        title=f"Entry {n}",
        heading_path=(),
        text=f"Text {n}",
        url=f"/kb/help/{n}/",
        language=language,
        answer=f"Answer {n}" if kind == "faq" else None,
        lexical_score=1.0,
        semantic_score=None,
        fused_score=confidence,
        confidence=confidence,
        matched_terms=(),
        opens_section=True,
    )


THRESHOLDS = {"faq_threshold": 0.8, "answer_threshold": 0.5, "max_passages": 3}


def test_a_confident_faq_hit_in_the_visitors_language_is_answered_directly():
    decision = decide([_hit(1, 0.9, kind="faq"), _hit(2, 0.6)], language="en", **THRESHOLDS)
    assert (decision.kind, decision.reason) == ("faq", "faq_match")
    foreign = decide([_hit(1, 0.9, kind="faq", language="zh-hans")], language="en", **THRESHOLDS)
    assert foreign.kind == "answer"


def test_a_less_confident_faq_hit_is_answered_from_passages():
    decision = decide([_hit(1, 0.7, kind="faq"), _hit(2, 0.6)], language="en", **THRESHOLDS)
    assert decision.kind == "answer"
    assert [h.passage_id for h in decision.hits] == [1, 2]


def test_weak_passages_stay_out_of_the_answer():
    hits = [_hit(1, 0.9), _hit(2, 0.8), _hit(3, 0.4), _hit(4, 0.85)]
    decision = decide(hits, language="en", **THRESHOLDS)
    assert [h.passage_id for h in decision.hits] == [1, 2]


def test_below_the_threshold_the_bot_abstains():
    assert decide([_hit(1, 0.49)], language="en", **THRESHOLDS).reason == "low_confidence"
    assert decide([], language="en", **THRESHOLDS).reason == "no_hits"


def test_the_offline_answerer_only_gets_passages_in_the_visitors_language():
    hits = [_hit(1, 0.9, language="zh-hans"), _hit(2, 0.7)]
    question = "How long does delivery take?"
    assert usable(hits, language="en", question=question, cross_language=False) == [hits[1]]
    assert usable(hits, language="en", question=question, cross_language=True) == hits


@pytest.mark.parametrize(
    ("question", "language"),
    [("怎么 track my order", "zh-hans"), ("我想退货，but I lost the receipt", "zh-hans")],
)
def test_a_question_in_both_languages_may_use_passages_in_both(question, language):
    hits = [_hit(1, 0.9), _hit(2, 0.7, language="zh-hans")]
    assert usable(hits, language=language, question=question, cross_language=False) == hits


def test_a_code_or_a_name_in_the_other_language_is_not_a_second_language():
    hits = [_hit(1, 0.9), _hit(2, 0.7, language="zh-hans")]
    for question in ("LM-2041 多少钱？", "Wi-Fi 连不上"):
        assert usable(hits, language="zh-hans", question=question, cross_language=False) == [
            hits[1]
        ]


def test_a_narrowing_named_by_a_multi_word_synonym_counts_as_mentioned_by_the_hits():
    # A synonym group matches "smart bulbs" as one surface; the follow-up's words are two.
    hit = replace(_hit(1, 0.45), matched_terms=("warranty", "smart bulbs"))
    named = _new_words("and for smart bulbs?", "How long is the warranty?")

    assert named == {"smart", "bulbs"}
    assert _mentioned(named, [hit])
    assert not _mentioned(named | {"paris"}, [hit])
