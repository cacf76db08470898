"""Grouping questions: words through the search's analyzer, meaning through sentence vectors."""

from __future__ import annotations

import numpy as np
import pytest

from apps.analytics.grouping import CHINESE_FUNCTION_WORDS, Question, questions_group
from apps.knowledge.search.analyzer import FUNCTION_WORDS, Tuning, analyzer_for

LIGHT = FUNCTION_WORDS | CHINESE_FUNCTION_WORDS


@pytest.fixture(scope="module")
def analyzer():
    return analyzer_for(Tuning())


def grouped(analyzer, asked: dict[str, int], vectors: dict[str, np.ndarray] | None = None):
    questions = [
        Question(text, n, tuple(analyzer.terms(text)), (vectors or {}).get(text))
        for text, n in asked.items()
    ]
    return [
        [questions[i].text for i in group]
        for group in questions_group(questions, light_terms=LIGHT)
    ]


def test_rephrasings_share_a_group_and_the_most_asked_group_comes_first(analyzer):
    groups = grouped(
        analyzer,
        {
            "可以开发票吗": 3,
            "能开发票吗": 2,
            "do you ship to hong kong": 1,
            "shipping to Hong Kong?": 1,
            "你们周末上班吗": 1,
        },
    )
    assert groups[0] == ["可以开发票吗", "能开发票吗"]
    assert ["do you ship to hong kong", "shipping to Hong Kong?"] in groups
    assert ["你们周末上班吗"] in groups
    assert len(groups) == 3


def test_question_words_alone_do_not_make_two_questions_alike(analyzer):
    # Both are "可以…吗" questions; what they ask about differs.
    groups = grouped(analyzer, {"可以开发票吗": 1, "可以退货吗": 1})
    assert len(groups) == 2


def test_sentence_vectors_join_rephrasings_that_share_no_word(analyzer):
    invoice = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    close_to_invoice = np.array([0.95, 0.3122, 0.0], dtype=np.float32)  # cosine 0.95
    unrelated = np.array([0.85, 0.0, 0.5268], dtype=np.float32)  # cosine 0.85: below the floor
    asked = {"可以开发票吗": 2, "报销凭证怎么拿": 1, "你们周末上班吗": 1}
    vectors = {
        "可以开发票吗": invoice,
        "报销凭证怎么拿": close_to_invoice,
        "你们周末上班吗": unrelated,
    }
    assert len(grouped(analyzer, asked)) == 3
    assert grouped(analyzer, asked, vectors) == [
        ["可以开发票吗", "报销凭证怎么拿"],
        ["你们周末上班吗"],
    ]


def test_grouping_is_the_same_whatever_order_the_questions_come_in(analyzer):
    asked = {"可以开发票吗": 2, "能开发票吗": 2, "发票抬头怎么改": 1, "退货运费谁出": 1}
    reverse = dict(reversed(list(asked.items())))
    assert grouped(analyzer, asked) == grouped(analyzer, reverse)
