"""A mistyped English word is searched as the collection's word one typo away, at a reduced
weight; codes, numbers and correctly spelt unknown words are left as typed."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from apps.bot.models import AnswerAudit
from apps.chat.services import conversation_open, visitor_create
from apps.knowledge.models import Collection, Status
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import article_create
from tests.bot.conftest import answered

pytestmark = pytest.mark.django_db(transaction=True)


def _audit(site, question: str) -> AnswerAudit:
    conversation = conversation_open(visitor=visitor_create(site=site))
    turn = async_to_sync(answered)(conversation, question)
    return AnswerAudit.objects.get(question=turn.question)


def test_a_mistyped_question_on_the_demo_is_answered_from_the_shipping_entry(
    settings, site
) -> None:
    settings.CSBOT_EMBEDDINGS = "off"
    call_command("kb_demo_load", "--site", site.public_key, stdout=None)
    typed = _audit(site, "how long does shipping take")
    mistyped = _audit(site, "how lnog dose shiping tkae")
    assert mistyped.decision in ("faq", "answer"), (mistyped.reason, mistyped.top_confidence)
    cited = {row["external_id"] for row in mistyped.passages if row["cited"]}
    assert cited & {"faq-delivery-time-en", "article-shipping-en"}, cited
    # Guessed words are weaker evidence than typed ones.
    assert mistyped.top_confidence < typed.top_confidence


def _article(collection: Collection, title: str, body: str) -> None:
    article_create(
        collection=collection, title=title, body=body, language="en", status=Status.PUBLISHED
    )


def test_a_code_is_not_corrected_into_a_code_one_edit_away(collection: Collection) -> None:
    _article(collection, "LM2041 lamp", "The LM2041 desk lamp costs 299.")
    hits = passages_search(query="LM2014", collections=[collection], limit=3)
    # Only the letters, a part of the code, match; the code itself is not taken for LM2041.
    assert [hit.matched_terms for hit in hits] == [("lm",)]


def test_a_word_nothing_is_one_edit_from_stays_unknown(collection: Collection) -> None:
    _article(collection, "Shipping", "Parcels leave the warehouse within two days.")
    assert passages_search(query="umbrella", collections=[collection], limit=3) == []
    (hit,) = passages_search(query="warehuse", collections=[collection], limit=3)
    assert hit.title == "Shipping"
