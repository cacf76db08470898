"""Knowledge gaps: questions the bot could not answer, grouped, ranked, turned into FAQ drafts."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.analytics.selectors import knowledge_gaps, period_for
from apps.chat.services import conversation_open, message_create_from_visitor, visitor_create
from apps.handoff.models import Ticket
from apps.handoff.services import handoff_request, ticket_claim, ticket_hand_back, ticket_reply
from tests.analytics.flows import agent_solves, ask, ask_for_a_human

pytestmark = [pytest.mark.django_db(transaction=True)]


def gaps(site):
    return knowledge_gaps(site=site, period=period_for(site=site, now=timezone.now(), days=7))


@pytest.fixture
def asked(pipeline, english, help_centre, present_agent):
    """Visitors ask what the help centre does not cover; one of them gets an agent's answer."""
    ask(visitor_create(site=english), "可以开发票吗")
    ask(visitor_create(site=english), "能开发票吗")
    ask(visitor_create(site=english), "Do you sell gift cards?")
    ask(visitor_create(site=english), "Are gift cards available?")
    ask(visitor_create(site=english), "你们周末上班吗")
    persistent = visitor_create(site=english)
    ask(persistent, "可以开发票吗")
    # A second answer in a row the bot cannot ground: it hands the conversation over.
    ask(persistent, "能开发票吗")
    ticket = Ticket.objects.get(visitor=persistent)
    ticket_claim(ticket_id=ticket.pk, agent=present_agent)
    ticket_reply(ticket_id=ticket.pk, agent=present_agent, text="可以，在订单页申请电子发票。")
    return ticket


def test_unanswered_questions_are_grouped_by_meaning_and_ranked_by_how_often(asked, english):
    groups = gaps(english)

    assert [(g.question, g.asked, g.conversations) for g in groups] == [
        ("可以开发票吗", 4, 3),
        ("Are gift cards available?", 2, 2),
        ("你们周末上班吗", 1, 1),
    ]
    invoices = groups[0]
    assert invoices.examples == ["能开发票吗"]
    assert invoices.language == "zh-hans"
    assert invoices.ticket_ids == [asked.pk]
    assert (invoices.agent_answer, invoices.answer_ticket_id) == (
        "可以，在订单页申请电子发票。",
        asked.pk,
    )
    assert groups[1].examples == ["Do you sell gift cards?"]
    assert groups[1].agent_answer == ""


def test_a_handoff_for_missing_knowledge_counts_even_without_an_abstention(english, present_agent):
    visitor = visitor_create(site=english)
    conversation = conversation_open(visitor=visitor)
    message_create_from_visitor(
        conversation=conversation, client_id="c-00000001", text="发票抬头能改吗"
    )
    handoff_request(conversation_id=conversation.pk, reason="missing_knowledge", by="bot")

    [group] = gaps(english)
    assert (group.question, group.asked) == ("发票抬头能改吗", 1)


def test_answered_questions_and_other_sites_are_not_gaps(
    pipeline, english, help_centre, other_site
):
    ask(visitor_create(site=english), "How much is shipping?")
    ask(visitor_create(site=other_site), "可以开发票吗")
    assert gaps(english) == []


def test_create_faq_draft_fills_in_the_knowledge_admin_form(client, asked, english, help_centre):
    admin = get_user_model().objects.create_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/console/insights/", {"site": english.public_key})
    _gap, draft_url = page.context["gaps"][0]
    assert draft_url.startswith("/admin/knowledge/faqentry/add/?")
    assert f'href="{draft_url.replace("&", "&amp;")}"' in page.content.decode()
    query = parse_qs(urlsplit(draft_url).query)
    assert query["question"] == ["可以开发票吗"]
    assert query["alternatives"] == ["能开发票吗"]

    form = client.get(draft_url).context["adminform"].form
    assert form.initial["question"] == "可以开发票吗"
    assert form.initial["alternatives"] == "能开发票吗"
    assert form.initial["answer"] == "可以，在订单页申请电子发票。"
    assert form.initial["language"] == "zh-hans"
    assert form.initial["status"] == "draft"
    assert str(form.initial["collection"]) == str(help_centre.pk)
    assert "asked 4 times" in form.initial["source"]


def test_a_gap_asked_once_is_counted_in_the_singular(client, english, present_agent, help_centre):
    visitor = visitor_create(site=english)
    conversation = conversation_open(visitor=visitor)
    message_create_from_visitor(
        conversation=conversation, client_id="c-00000001", text="发票抬头能改吗"
    )
    handoff_request(conversation_id=conversation.pk, reason="missing_knowledge", by="bot")
    admin = get_user_model().objects.create_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/console/insights/", {"site": english.public_key})
    _gap, draft_url = page.context["gaps"][0]
    [source] = parse_qs(urlsplit(draft_url).query)["source"]
    assert source == f"knowledge gap, {english.name}, asked 1 time"


@pytest.mark.parametrize(
    ("flicker", "warranty"),
    [
        ("My lamp LM-2041 flickers, can you help?", "How long is the warranty?"),
        ("我的台灯一直闪，怎么办？", "保修多久？"),
    ],
)
def test_a_gap_takes_the_agent_reply_to_its_own_question_not_a_later_tickets(
    pipeline, english, help_centre, present_agent, clock, flicker, warranty
):
    visitor = visitor_create(site=english)
    ask(visitor, flicker)
    clock.advance(seconds=5)
    first = ask_for_a_human(visitor)
    clock.advance(seconds=5)
    # Handed back to the bot, not solved: the visitor's next question stays in the same
    # conversation.
    ticket_claim(ticket_id=first.pk, agent=present_agent)
    ticket_reply(ticket_id=first.pk, agent=present_agent, text="Please send a short video.")
    ticket_hand_back(ticket_id=first.pk, agent=present_agent)
    clock.advance(seconds=30)
    ask(visitor, warranty)
    clock.advance(seconds=5)
    second = ask_for_a_human(visitor)
    clock.advance(seconds=5)
    agent_solves(second, present_agent, reply="Back again! I'll send a replacement.")
    assert second.conversation_id == first.conversation_id

    by_question = {g.question: g for g in gaps(english)}
    lamp = by_question[flicker]
    assert (lamp.agent_answer, lamp.answer_ticket_id) == (
        "Please send a short video.",
        first.pk,
    )
    assert (lamp.tickets, lamp.ticket_ids) == (1, [first.pk])
    later = by_question[warranty]
    assert (later.agent_answer, later.answer_ticket_id) == (
        "Back again! I'll send a replacement.",
        second.pk,
    )
    assert later.ticket_ids == [second.pk]


def test_a_ticket_opened_after_the_visitor_moved_on_is_not_the_gaps(
    pipeline, english, help_centre, present_agent, clock
):
    visitor = visitor_create(site=english)
    ask(visitor, "My lamp LM-2041 flickers, can you help?")
    clock.advance(seconds=5)
    # The visitor lets the offer of a person go, asks something the bot answers, and only
    # then wants a person, about that.
    ask(visitor, "How much is shipping?")
    clock.advance(seconds=5)
    ticket = ask_for_a_human(visitor)
    agent_solves(ticket, present_agent, reply="Shipping is free over 99 yuan.")

    [lamp] = gaps(english)
    assert lamp.question == "My lamp LM-2041 flickers, can you help?"
    assert (lamp.agent_answer, lamp.answer_ticket_id) == ("", None)
    assert (lamp.tickets, lamp.ticket_ids) == (0, [])


def test_a_handoff_for_missing_knowledge_counts_beside_an_earlier_abstention(
    pipeline, english, help_centre, present_agent, clock
):
    visitor = visitor_create(site=english)
    ask(visitor, "My lamp LM-2041 flickers, can you help?")
    clock.advance(seconds=5)
    first = ask_for_a_human(visitor)
    ticket_claim(ticket_id=first.pk, agent=present_agent)
    ticket_reply(ticket_id=first.pk, agent=present_agent, text="Please send a short video.")
    ticket_hand_back(ticket_id=first.pk, agent=present_agent)
    clock.advance(seconds=30)
    # A question the bot hands over for missing knowledge without abstaining on it.
    message_create_from_visitor(
        conversation=first.conversation, client_id="c-00000002", text="发票抬头能改吗"
    )
    handoff_request(conversation_id=first.conversation_id, reason="missing_knowledge", by="bot")

    questions = {g.question: g.asked for g in gaps(english)}
    assert questions == {"My lamp LM-2041 flickers, can you help?": 1, "发票抬头能改吗": 1}
