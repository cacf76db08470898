"""The offline answerer never splices sentences of a passage that are apart in it into what
reads as one statement: the cut is shown."""

from __future__ import annotations

from apps.llm.offline import extract_answer
from apps.llm.types import Document

DELIVERY = Document(
    1,
    "How long does delivery take?",
    "Orders paid before 16:00 on a working day ship the same day. "
    "Delivery then takes 1–2 days to Shanghai and 2–4 days to most provinces. "
    "Hong Kong and Macao take 3–5 working days.",
    "/kb/delivery",
    "en",
)
DELIVERY_ZH = Document(
    2,
    "多久能收到货？",
    "工作日16:00前付款的订单当天发货。江浙沪1–2天送达，其他省份2–4天。港澳地区3–5个工作日送达。",
    "/kb/delivery-zh",
    "zh-hans",
)


def test_sentences_apart_in_the_passage_are_quoted_with_an_ellipsis_between_them():
    answer = extract_answer(
        "Do orders paid before 16:00 ship to Hong Kong and Macao?", [DELIVERY], "en"
    )
    assert answer == (
        "From our help centre:\n"
        "\u201cOrders paid before 16:00 on a working day ship the same day. \u2026 "
        "Hong Kong and Macao take 3–5 working days.\u201d [1]"
    )


def test_neighbouring_sentences_are_quoted_as_the_passage_writes_them():
    answer = extract_answer(
        "When do orders ship, and how many days does delivery take to Shanghai?", [DELIVERY], "en"
    )
    assert answer == (
        "From our help centre:\n"
        "\u201cOrders paid before 16:00 on a working day ship the same day. "
        "Delivery then takes 1–2 days to Shanghai and 2–4 days to most provinces.\u201d [1]"
    )


def test_a_chinese_cut_is_marked_with_a_chinese_ellipsis():
    answer = extract_answer("16:00前付款港澳地区多久？", [DELIVERY_ZH], "zh-hans")
    assert answer == (
        "根据帮助中心：\n「工作日16:00前付款的订单当天发货。……港澳地区3–5个工作日送达。」[2]"
    )
