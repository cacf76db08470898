"""Each outcome, from conversations built through the real chat, bot and handoff services."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.analytics.selectors import (
    conversation_outcomes,
    outcome_counts,
    period_for,
)
from apps.analytics.services import feedback_record, outcome_settings_save
from apps.bot.models import AnswerAudit
from apps.chat.services import conversation_open, visitor_create
from apps.handoff.models import Ticket
from apps.handoff.services import ticket_claim, ticket_close, ticket_hand_back
from apps.handoff.services.presence import agent_session_seen
from tests.analytics.flows import agent_solves, ask, ask_for_a_human, bot_replies

pytestmark = [pytest.mark.django_db(transaction=True)]

ANSWERED = "How much is shipping?"
UNANSWERABLE = "Do you sell gift cards for the lamp museum?"


def judged(visitor, **after) -> tuple[str, str, str]:
    """The visitor's conversation's (outcome, reason, detail), judged ``after`` from now."""
    now = timezone.now() + timezone.timedelta(**after)
    period = period_for(site=visitor.site, now=now, days=30)
    conversation = conversation_open(visitor=visitor)
    row = conversation_outcomes(site=visitor.site, period=period)[conversation.pk]
    return row.outcome, row.reason, row.detail


def test_an_answered_question_stays_open_through_the_window_then_counts_as_resolved(
    pipeline, english, help_centre, visitor
):
    ask(visitor, ANSWERED)
    assert AnswerAudit.objects.get().decision == "faq"
    assert judged(visitor, hours=71) == ("open", "", "")
    assert judged(visitor, hours=73) == ("resolved_bot", "", "")


def test_a_site_sets_its_own_reopen_window(pipeline, english, help_centre, visitor):
    outcome_settings_save(site=english, reopen_window_hours=24)
    ask(visitor, ANSWERED)
    assert judged(visitor, hours=23) == ("open", "", "")
    assert judged(visitor, hours=25) == ("resolved_bot", "", "")


def test_a_visitor_who_comes_back_within_the_window_reopens_the_conversation(
    pipeline, english, help_centre, visitor, present_agent, clock
):
    ask(visitor, ANSWERED)
    clock.advance(hours=48)
    agent_session_seen(channel_name="test.mei")  # Mei's console is still open
    # Back two days later: the answer did not settle it, and this time they want a person.
    ticket = ask_for_a_human(visitor)
    assert ticket is not None
    assert judged(visitor, hours=73) == ("handed_off", "customer_request", "")
    assert judged(visitor, days=20) == ("handed_off", "customer_request", "")


def test_a_return_restarts_the_window_from_the_last_message(
    pipeline, english, help_centre, visitor, clock
):
    ask(visitor, ANSWERED)
    clock.advance(hours=60)
    ask(visitor, UNANSWERABLE)
    # 72 h after the first answer, but only 12 h after the return.
    assert judged(visitor, hours=12) == ("open", "", "")
    assert judged(visitor, hours=73) == ("abandoned", "", "unanswered")


def test_a_question_the_bot_could_not_answer_is_abandoned_once_the_visitor_is_gone(
    pipeline, english, help_centre, visitor
):
    ask(visitor, UNANSWERABLE)
    assert AnswerAudit.objects.get().decision == "abstain"
    assert judged(visitor, hours=1) == ("open", "", "")
    assert judged(visitor, hours=73) == ("abandoned", "", "unanswered")


def test_a_thumbs_down_on_the_last_answer_is_not_a_resolution(
    pipeline, english, help_centre, visitor
):
    ask(visitor, ANSWERED)
    [answer] = bot_replies(visitor)
    feedback_record(visitor_id=visitor.pk, message_id=answer.pk, value="down", comment="Wrong")
    assert judged(visitor, hours=73) == ("abandoned", "", "rated_unhelpful")
    feedback_record(visitor_id=visitor.pk, message_id=answer.pk, value="up")
    assert judged(visitor, hours=73) == ("resolved_bot", "", "")


def test_an_agent_solving_the_ticket_resolves_the_conversation(
    pipeline, english, help_centre, visitor, present_agent
):
    ask(visitor, UNANSWERABLE)
    ticket = ask_for_a_human(visitor)
    assert judged(visitor) == ("handed_off", "customer_request", "")
    agent_solves(ticket, present_agent)
    assert judged(visitor) == ("resolved_agent", "customer_request", "")
    assert judged(visitor, days=10) == ("resolved_agent", "customer_request", "")


def test_handing_back_to_the_bot_resolves_the_ticket_and_the_bot_may_carry_on(
    pipeline, english, help_centre, visitor, present_agent
):
    ticket = ask_for_a_human(visitor)
    ticket_claim(ticket_id=ticket.pk, agent=present_agent)
    ticket_hand_back(ticket_id=ticket.pk, agent=present_agent)
    ask(visitor, ANSWERED)
    assert len(bot_replies(visitor)) == 1
    assert judged(visitor, hours=73) == ("resolved_agent", "customer_request", "")


def test_asking_for_a_human_in_words_hands_off_with_the_reason(english, visitor, present_agent):
    ask(visitor, "转人工")
    assert judged(visitor) == ("handed_off", "customer_request", "")
    assert judged(visitor, days=10) == ("handed_off", "customer_request", "")


def test_the_bot_giving_up_hands_off_with_the_pipelines_reason(
    pipeline, english, help_centre, visitor, present_agent
):
    ask(visitor, UNANSWERABLE)
    ask(visitor, "And do you sell gift cards for the aquarium?")
    ticket = Ticket.objects.get(visitor=visitor)
    assert ticket.reason in ("missing_knowledge", "repeated_failure")
    assert judged(visitor) == ("handed_off", ticket.reason, "")


def test_a_ticket_closed_unsolved_leaves_the_conversation_handed_off(
    english, visitor, present_agent
):
    ticket = ask_for_a_human(visitor)
    ticket_claim(ticket_id=ticket.pk, agent=present_agent)
    ticket_close(ticket_id=ticket.pk, agent=present_agent)
    assert judged(visitor, days=5) == ("handed_off", "customer_request", "")


def test_wanting_a_human_when_nobody_can_come_is_abandoned(english, visitor):
    assert ask_for_a_human(visitor) is None  # no agent online: the widget offered a message form
    assert judged(visitor, hours=1) == ("open", "", "")
    assert judged(visitor, hours=73) == ("abandoned", "", "handoff_unavailable")


def test_counts_cover_the_sites_conversations_of_the_period_only(
    pipeline, english, help_centre, visitor, other_visitor, other_site, present_agent, clock
):
    started = timezone.now()
    ask(visitor, ANSWERED)
    ask(other_visitor, UNANSWERABLE)
    agent_solves(ask_for_a_human(other_visitor), present_agent)
    conversation_open(visitor=visitor_create(site=english))  # opened the widget, said nothing
    ask(visitor_create(site=other_site), ANSWERED)  # another site's
    clock.advance(days=40)
    ask(visitor_create(site=english), ANSWERED)  # outside the period judged below

    period = period_for(site=english, now=started + timezone.timedelta(hours=73), days=5)
    counts = outcome_counts(site=english, period=period)
    assert counts.total == 2
    assert counts.by_outcome == {
        "resolved_bot": 1,
        "resolved_agent": 1,
        "handed_off": 0,
        "abandoned": 0,
        "open": 0,
    }
    assert counts.handoffs_by_reason == {"customer_request": 1}
    assert counts.rate("resolved_bot") == 0.5
    started_day = started.astimezone(period.zone).date()
    assert counts.by_day[started_day]["resolved_bot"] == 1
    assert counts.by_day[started_day]["resolved_agent"] == 1
    assert sum(sum(day.values()) for day in counts.by_day.values()) == 2
