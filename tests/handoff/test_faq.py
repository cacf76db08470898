"""The learning loop: an agent promotes their answer to a draft FAQ entry linked to the ticket."""

from __future__ import annotations

import pytest

from apps.handoff.models import Ticket
from apps.knowledge.models import Collection, FAQEntry, Passage
from tests.handoff.sockets import console_socket, frame_of, frames_with, visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]

PROMOTE = {
    "type": "faq.promote",
    "question": "Can I return a lamp that arrived broken?",
    "answer": "Yes: we send a new one at once and collect the broken lamp for free.",
}


@pytest.fixture
def collection(site):
    found = Collection.objects.create(name="Help centre", slug="help")
    found.sites.add(site)
    return found


async def solved_ticket(visitor, agent) -> tuple[object, dict]:
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    await frames_with(widget, "handoff.ack", "conversation.status")
    ticket = (await frame_of(console, "ticket"))["ticket"]
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket["id"]})
    await frame_of(console, "result")
    await console.send_json_to({"type": "ticket.solve", "ticket_id": ticket["id"]})
    await frame_of(console, "result")
    await widget.disconnect()
    return console, ticket


async def test_an_agents_answer_becomes_a_draft_faq_linked_to_the_ticket(
    english, collection, visitor, agent
):
    console, ticket = await solved_ticket(visitor, agent)
    await console.send_json_to({**PROMOTE, "ticket_id": ticket["id"], "ref": "f1"})
    result = await frame_of(console, "result")
    draft = await FAQEntry.objects.aget(pk=result["faq_id"])
    assert result["admin_url"] == f"/admin/knowledge/faqentry/{draft.pk}/change/"
    assert (draft.question, draft.answer) == (PROMOTE["question"], PROMOTE["answer"])
    assert (draft.status, draft.language, draft.collection_id) == ("draft", "en", collection.pk)
    assert draft.source == f"ticket #{ticket['id']}"
    assert (await Ticket.objects.aget(pk=ticket["id"])).faq_entry_id == draft.pk
    updated = await frame_of(console, lambda f: f["type"] == "ticket" and f["ticket"]["faq_id"])
    assert updated["ticket"]["faq_id"] == draft.pk
    # A draft is not searchable: the bot does not answer from it until an admin publishes it.
    assert not await Passage.objects.filter(faq=draft).aexists()

    await console.send_json_to(
        {**PROMOTE, "ticket_id": ticket["id"], "answer": "Yes, free of charge."}
    )
    again = await frame_of(console, "result")
    assert again["faq_id"] == draft.pk
    await draft.arefresh_from_db()
    assert draft.answer == "Yes, free of charge."
    assert await FAQEntry.objects.acount() == 1
    await console.disconnect()


async def test_a_site_without_a_knowledge_base_says_so(english, visitor, agent):
    console, ticket = await solved_ticket(visitor, agent)
    await console.send_json_to({**PROMOTE, "ticket_id": ticket["id"]})
    error = await frame_of(console, "error")
    assert error["code"] == "no_collection"
    assert not await FAQEntry.objects.aexists()
    await console.disconnect()
