"""A section's heading counts for the first sentence of its first passage only."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from apps.chat.services import conversation_open, visitor_create
from apps.knowledge.models import Status
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import article_create, collection_create
from tests.bot.conftest import answered

pytestmark = [pytest.mark.django_db(transaction=True)]

CLAIM = "Contact us in the chat with your order number and a photo of the problem."
# Long enough that the section is cut into three passages with the same heading path.
FILLER = "Our team reads every message in the order it arrives. " * 27
CONTINUATION = "Shipping to Hong Kong costs ¥30 per order."


@pytest.fixture
def warranty(site):
    collection = collection_create(name="Help")
    collection.sites.add(site)
    article_create(
        collection=collection,
        title="Warranty",
        body=f"## How do I make a warranty claim?\n{CLAIM}\n\n{FILLER.strip()}\n\n{CONTINUATION}",
        language="en",
        status=Status.PUBLISHED,
        external_id="warranty-en",
    )
    return collection


def test_only_the_first_passage_of_a_section_opens_it(warranty):
    hits = passages_search(query="warranty claim", collections=[warranty])

    opening = {hit.text.split(".")[0]: hit.opens_section for hit in hits}
    assert opening[CLAIM.split(".")[0]] is True
    assert opening[CONTINUATION.split(".")[0]] is False


def test_a_continuation_passage_is_not_quoted_as_the_answer_to_its_sections_heading(site, warranty):
    conversation = conversation_open(visitor=visitor_create(site=site))

    turn = async_to_sync(answered)(conversation, "How do I make a warranty claim?")

    # The heading counted for every passage's first sentence: the shipping fee, which opens
    # the section's third passage, was quoted as the way to make a claim.
    assert CLAIM in turn.final.text, turn.final.text
    assert "Hong Kong" not in turn.final.text, turn.final.text
