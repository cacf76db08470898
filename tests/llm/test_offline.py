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
