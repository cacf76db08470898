"""The offline answerer quotes the passages it is given, in the visitor's language, or is silent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from apps.llm.config import offline_route
from apps.llm.dialects import backend_for
from apps.llm.gateway import Done
from apps.llm.services import chat_stream
from apps.llm.types import ChatMessage, ChatRequest, Document, Finish, TextDelta, Usage

SHIPPING = Document(
    1,
    "Shipping",
    "We ship from Hangzhou. Parcels ship within 48 hours of payment. Tracking numbers are emailed.",
    "https://shop.example.com/help/shipping",
    "en",
)
RETURNS = Document(
    2,
    "Returns",
    "Returns are accepted within 30 days of delivery. "
    "Return shipping is refunded for faulty items.",
    "https://shop.example.com/help/returns",
    "en",
)
RETURNS_ZH = Document(
    3,
    "退货政策",
    "收到商品后30天内可以申请退货。商品有质量问题时，退货运费由我们承担。请保留快递单号。",
    "https://shop.example.com/zh/help/returns",
    "zh-hans",
)


def request(question: str, *documents: Document, language: str = "en") -> ChatRequest:
    return ChatRequest(
        messages=(ChatMessage("system", "passages…"), ChatMessage("user", f"…\n{question}")),
        documents=documents,
        language=language,
        question=question,
    )


async def test_answer_quotes_the_matching_sentences_with_their_citations():
    completion = await backend_for(offline_route()).complete(
        request("How long until my parcel ships?", SHIPPING, RETURNS)
    )

    assert completion.text == (
        "From our help centre:\n\u201cParcels ship within 48 hours of payment.\u201d [1]"
    )
    assert (completion.finish_reason, completion.usage.estimated) == ("stop", True)


async def test_sentences_from_several_passages_are_cited_each():
    completion = await backend_for(offline_route()).complete(
        request("Is return shipping refunded?", SHIPPING, RETURNS)
    )

    assert completion.text.startswith("From our help centre:\n")
    assert "\u201cReturn shipping is refunded for faulty items.\u201d [2]" in completion.text
    assert "Hangzhou" not in completion.text


LAMP = Document(
    4,
    "LM-2041 desk lamp",
    "The LM-2041 desk lamp has a two-year warranty. The warranty covers the LED and the switch. "
    "The LM-2041 costs 299 yuan.",
    "https://shop.example.com/help/lm-2041",
    "en",
)


async def test_a_joined_follow_up_is_answered_about_its_own_words():
    # "How much does it cost?" after a warranty question, joined to it by the rules.
    joined = request("Does the LM-2041 have a warranty? How much does it cost?", LAMP)
    completion = await backend_for(offline_route()).complete(
        replace(joined, focus="How much does it cost?")
    )

    assert completion.text == ("From our help centre:\n\u201cThe LM-2041 costs 299 yuan.\u201d [4]")


async def test_a_follow_up_whose_words_no_sentence_has_is_answered_from_the_joined_question():
    joined = request("Does the LM-2041 have a warranty? What about the stand?", LAMP)
    backend = backend_for(offline_route())
    focused = await backend.complete(replace(joined, focus="What about the stand?"))

    assert "two-year warranty" in focused.text
    assert focused.text == (await backend.complete(joined)).text


async def test_chinese_question_is_answered_from_chinese_passages_only():
    completion = await backend_for(offline_route()).complete(
        request("退货运费谁出？", SHIPPING, RETURNS, RETURNS_ZH, language="zh-hans")
    )

    assert completion.text == "根据帮助中心：\n「商品有质量问题时，退货运费由我们承担。」[3]"


async def test_nothing_to_quote_is_an_empty_answer():
    backend = backend_for(offline_route())

    unrelated = await backend.complete(request("Do you sell gift cards?", SHIPPING))
    no_documents = await backend.complete(request("How long does shipping take?"))
    wrong_language = await backend.complete(request("How long does shipping take?", RETURNS_ZH))

    assert (unrelated.text, no_documents.text, wrong_language.text) == ("", "", "")
    assert unrelated.finish_reason == "stop"


async def test_answer_streams_in_small_chunks_then_usage_and_finish():
    events = [e async for e in backend_for(offline_route()).stream(request("ships?", SHIPPING))]

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3
    assert all(len(d.text) <= 12 for d in deltas)
    assert isinstance(events[-2], Usage)
    assert events[-1] == Finish("stop")


async def test_question_defaults_to_the_last_user_message():
    plain = ChatRequest(
        messages=(ChatMessage("user", "When do parcels ship?"),), documents=(SHIPPING,)
    )

    completion = await backend_for(offline_route()).complete(plain)

    assert "48 hours" in completion.text


@pytest.mark.django_db(transaction=True)
async def test_with_nothing_configured_the_gateway_answers_offline(chain):
    events = [e async for e in chat_stream(site_id=None, request=request("ships?", SHIPPING))]

    done = events[-1]
    assert isinstance(done, Done)
    assert (done.outcome, done.route) == ("complete", "offline/extractive")
    assert done.text.endswith("[1]")


async def _quoted(question: str, *documents: Document, language: str = "en") -> str:
    """The offline answerer's whole answer to ``question`` from ``documents``."""
    completion = await backend_for(offline_route()).complete(
        request(question, *documents, language=language)
    )
    return completion.text


CATALOGUE = Document(
    5,
    "Product codes and catalogue",
    "Every product has a code of two letters and four digits.\n\n"
    "| Code | Product | Price |\n"
    "| --- | --- | ---: |\n"
    "| LM-2041 | Aurora desk lamp | ¥299 |\n"
    "| LM-3307 | Halo floor lamp | ¥649 |\n\n"
    "Prices include VAT.",
    "https://shop.example.com/help/catalogue",
    "en",
)


@pytest.mark.parametrize("code", ["lm2041", "LM-2041", "lm-2041", "LM 2041", "ＬＭ－２０４１"])
async def test_a_table_row_is_quoted_with_its_headers_however_the_code_is_typed(code):
    text = await _quoted(f"{code} price", CATALOGUE)

    # Neither the header row alone (it has "Price") nor the delimiter row, nor the LM-3307 row
    # for sharing "LM" with the question.
    assert text == (
        "From our help centre:\n"
        "\u201cCode: LM-2041; Product: Aurora desk lamp; Price: ¥299.\u201d [5]"
    )


async def test_a_chinese_table_row_reads_as_headers_and_cells():
    catalogue = Document(
        6,
        "产品型号与价格",
        "| 型号 | 产品 | 价格 |\n|---|---|---|\n| LM-3307 | Halo 光环落地灯 | ¥649 |",
        "https://shop.example.com/zh/help/catalogue",
        "zh-hans",
    )

    text = await _quoted("LM3307 多少钱？价格", catalogue, language="zh-hans")

    assert text == ("根据帮助中心：\n「型号：LM-3307；产品：Halo 光环落地灯；价格：¥649。」[6]")


async def test_a_code_typed_with_a_space_is_one_only_where_a_passage_has_it():
    within = Document(7, "Returns", "Return it in 30 days. Refunds take 30 minutes.", "u", "en")

    text = await _quoted("return in 30 days", within)

    # "in 30" is not a code in30: the question's 30 still matches the passage's.
    assert text == "From our help centre:\n\u201cReturn it in 30 days.\u201d [7]"


INVOICE_ARTICLE = Document(
    1,
    "Payment methods and invoices › Invoices",
    "We issue electronic VAT invoices. Request one under My orders → Invoice. "
    "For a company invoice, enter the company name and its taxpayer ID.",
    "https://shop.example.com/help/payment",
    "en",
)
INVOICE_FAQ = Document(
    2,
    "How do I get an invoice?",
    "For a company invoice, enter the company name and taxpayer ID.",
    "https://shop.example.com/help/faq/invoice",
    "en",
)


async def test_a_sentence_another_passage_already_said_is_quoted_once():
    text = await _quoted("invoice for a company", INVOICE_ARTICLE, INVOICE_FAQ)

    # Quoted once, from the article, and the FAQ that says it too is cited beside it.
    assert text == (
        "From our help centre:\n"
        "\u201cFor a company invoice, enter the company name and its taxpayer ID.\u201d [1][2]"
    )


async def test_a_nearly_identical_chinese_sentence_is_not_quoted_again():
    faq = Document(
        1, "多久能收到货？", "工作日 16:00 前付款的订单当天发货。1–2 天送达。", "u", "zh-hans"
    )
    article = Document(2, "配送说明", "工作日北京时间 16:00 前付款的订单当天发货；", "u", "zh-hans")

    text = await _quoted("发货要多久？", faq, article, language="zh-hans")

    assert text.count("当天发货") == 1, text


RETURNS_FAQ_ZH = Document(
    8, "怎么退货？", "签收后 30 天内申请退货。退货无需发票或收据。", "u", "zh-hans"
)


async def test_a_question_partly_in_chinese_may_be_answered_from_a_chinese_passage():
    text = await _quoted("我想退货，but I lost the receipt", RETURNS_FAQ_ZH, language="en")

    assert text == (
        "From our help centre:\n\u201c签收后 30 天内申请退货。退货无需发票或收据。\u201d [8]"
    )


async def test_a_brand_or_code_in_latin_letters_does_not_make_a_chinese_question_english():
    wifi = Document(9, "Wi-Fi", "The bulbs need 2.4 GHz Wi-Fi. Wi-Fi 6 routers work.", "u", "en")
    for question in ("Wi-Fi 连不上", "LM-2041 Wi-Fi 多少钱"):
        assert await _quoted(question, wifi, language="zh-hans") == "", question


CLAIMS = Document(
    5,
    "Warranty",
    "Contact us in the chat with your order number and a photo of the problem. "
    "We reply within 1 working day. "
    "Once a claim is approved we ship a replacement within 48 hours.",
    "https://shop.example.com/help/warranty#claims",
    "en",
    heading="How to make a claim",
)


async def test_a_section_answers_its_heading_from_its_first_sentence():
    completion = await backend_for(offline_route()).complete(
        request("How do I make a claim?", CLAIMS)
    )

    assert completion.text.startswith(
        "From our help centre:\n\u201cContact us in the chat with your order number and a photo"
    )


async def test_a_mistyped_question_word_is_read_as_the_sentence_word_it_is_a_slip_for():
    backend = backend_for(offline_route())

    mistyped = await backend.complete(request("How do retruns work?", SHIPPING, RETURNS))
    unknown = await backend.complete(request("How do xyzzies work?", SHIPPING, RETURNS))

    assert "\u201cReturns are accepted within 30 days of delivery." in mistyped.text
    assert unknown.text == ""


async def test_a_real_word_is_not_read_as_a_sentence_word_a_letter_away():
    backend = backend_for(offline_route())
    # "bring" is one edit from "being", which a sentence has: it was quoted as the answer.
    being = Document(4, "Care", "Being outdoors is safe.", "https://shop.example.com/care", "en")

    real = await backend.complete(request("Can I bring it?", being))
    # Another form of the same word still is: the crude stem "temperatur" finds temperature.
    other_form = await backend.complete(
        request(
            "What about temperatures?", Document(5, "Care", "Store at room temperature.", "", "en")
        )
    )

    assert real.text == ""
    assert "room temperature" in other_form.text


async def test_a_word_repeated_through_one_passage_weighs_as_its_subject_not_as_a_common_word():
    returns = Document(
        1,
        "Returns",
        "Returns are accepted within 30 days. Return shipping is free for faulty items. "
        "A return label is emailed.",
        "",
        "en",
    )
    catalogue = Document(2, "Catalogue", "The Halo lamp costs 649 yuan.", "", "en")
    warranty = Document(3, "Warranty", "Lamps have a two-year warranty.", "", "en")

    completion = await backend_for(offline_route()).complete(
        request("How do I return a lamp?", returns, catalogue, warranty)
    )

    # Counted by sentences, "return" (three of the five) weighed less than "lamp" (two), and
    # the lamp's sentences were quoted before all but one of the returns passage's.
    assert completion.text.startswith(
        "From our help centre:\n\u201cReturns are accepted within 30 days. "
        "Return shipping is free for faulty items.\u201d [1]"
    ), completion.text
