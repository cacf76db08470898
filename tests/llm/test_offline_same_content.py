"""The offline answerer quotes a statement once, however differently two passages word it."""

from __future__ import annotations

import pytest

from apps.llm.offline import _nearly_same, extract_answer
from apps.llm.types import Document

ARTICLE = Document(
    1,
    "Shipping and delivery › Shipping fees",
    "Shipping in mainland China is free on orders of ¥99 or more. "
    "Shipping to Hong Kong or Macao costs ¥30 per order, whatever its value.",
    "u",
    "en",
)
FAQ = Document(
    2,
    "How much is shipping?",
    "Shipping in mainland China is free from ¥99. Shipping to Hong Kong or Macao is ¥30 per order.",
    "u",
    "en",
)


def test_the_same_figure_in_other_words_is_quoted_once_and_both_passages_cited() -> None:
    text = extract_answer("What does shipping to Hong Kong cost?", [ARTICLE, FAQ], "en")

    assert text.count("¥30") == 1, text
    assert "[1][2]" in text, text


def test_the_same_chinese_figure_in_other_words_is_quoted_once() -> None:
    faq = Document(1, "运费怎么算？", "寄往香港或澳门每单运费 ¥30。", "u", "zh-hans")
    article = Document(
        2, "配送说明", "寄往香港或澳门每单运费 ¥30，与订单金额无关。", "u", "zh-hans"
    )

    text = extract_answer("寄到澳门要多少运费", [faq, article], "zh-hans")

    assert text.count("¥30") == 1, text


def test_other_figures_or_a_negation_are_not_the_same_statement() -> None:
    macao = Document(2, "Macao", "Shipping to Hong Kong or Macao is ¥50 per order.", "u", "en")
    text = extract_answer("shipping to Hong Kong or Macao", [ARTICLE, macao], "en")
    assert "¥30" in text, text
    assert "¥50" in text, text

    kept = Document(1, "Receipts", "Returns of opened lamps need the receipt.", "u", "en")
    waived = Document(2, "Receipts", "Returns of opened lamps do not need the receipt.", "u", "en")
    text = extract_answer("returns of opened lamps receipt", [kept, waived], "en")
    assert text.count("need the receipt") == 2, text


@pytest.mark.parametrize("apostrophe", ["\u2019", "\u02bc"])
def test_a_negation_typed_with_a_typographic_apostrophe_is_not_the_same_statement(
    apostrophe: str,
) -> None:
    # An imported .docx writes "don’t": read as no negation, the contradiction was dropped.
    assert not _nearly_same("Returns need a receipt.", f"Returns don{apostrophe}t need a receipt.")
    assert not _nearly_same("Lamps can be returned.", f"Lamps can{apostrophe}t be returned.")


def test_the_same_statement_about_another_subject_is_quoted_too() -> None:
    electronics = Document(
        1, "Returns", "Unopened electronics can be returned within 30 days.", "u", "en"
    )
    furniture = Document(2, "Returns", "Furniture can be returned within 30 days.", "u", "en")

    text = extract_answer(
        "Can electronics and furniture be returned?", [electronics, furniture], "en"
    )

    assert "Furniture can be returned" in text, text
    assert "[1][2]" not in text, text
