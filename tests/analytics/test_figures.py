"""Ticket SLA, CSAT and model usage figures, from tickets and answers made through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.analytics.selectors import csat_figures, insights_compute, period_for, ticket_figures
from apps.analytics.selectors.usage import usage_figures
from apps.analytics.services import RatingRejected, csat_record
from apps.bot.models import AnswerAudit
from apps.chat.services import visitor_create
from apps.handoff.services import ticket_claim, ticket_reply
from apps.handoff.services.presence import agent_session_seen
from apps.llm.models import ModelPrice
from tests.analytics.flows import agent_solves, ask, ask_for_a_human
from tests.llm.fixtures import backup, chain, fresh_breaker, llm_clients_closed, provider
from tests.llm.provider_replies import openai_error, openai_stream

__all__ = ["backup", "chain", "fresh_breaker", "llm_clients_closed", "provider"]

pytestmark = [pytest.mark.django_db(transaction=True)]

MINUTE = dt.timedelta(minutes=1)


def period(site, **after):
    return period_for(site=site, now=timezone.now() + dt.timedelta(**after), days=7)


def test_first_response_and_resolution_are_measured_against_the_sla(english, present_agent, clock):
    quick, slow, waiting = (visitor_create(site=english) for _ in range(3))
    quick_ticket = ask_for_a_human(quick)
    slow_ticket = ask_for_a_human(slow)
    ask_for_a_human(waiting)
    clock.advance(minutes=4)
    agent_solves(quick_ticket, present_agent)  # answered in 4 min (SLA: 10), solved at once
    clock.advance(minutes=21)
    ticket_claim(ticket_id=slow_ticket.pk, agent=present_agent)
    ticket_reply(ticket_id=slow_ticket.pk, agent=present_agent, text="Sorry for the wait.")

    figures = ticket_figures(site=english, period=period(english))

    assert figures.total == 3
    first = figures.first_response
    assert (first.stopped, first.met, first.overdue) == (2, 1, 1)  # the waiting one is late too
    assert first.met_rate == pytest.approx(1 / 3)
    assert first.median == 25 * MINUTE  # of 4 and 25 min, the middle by offset is the upper
    assert first.average == dt.timedelta(minutes=14.5)
    resolution = figures.resolution
    assert (resolution.stopped, resolution.met, resolution.overdue) == (1, 1, 0)
    assert resolution.median == 4 * MINUTE


def test_csat_averages_the_ratings_of_tickets_solved_in_the_period(english, present_agent):
    visitors = [visitor_create(site=english) for _ in range(3)]
    for visitor in visitors:
        agent_solves(ask_for_a_human(visitor), present_agent)
    csat_record(visitor_id=visitors[0].pk, rating=5, comment="好")
    csat_record(visitor_id=visitors[1].pk, rating=2)

    figures = csat_figures(site=english, period=period(english))

    assert (figures.responses, figures.solved) == (2, 3)
    assert figures.average == 3.5
    assert figures.response_rate == pytest.approx(2 / 3)
    assert figures.satisfied_rate == 0.5
    assert figures.distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    [mei] = figures.by_agent
    assert (mei.name, mei.responses, mei.average) == ("Mei", 2, 3.5)


def test_a_rating_outside_its_window_is_refused(english, present_agent, clock):
    visitor = visitor_create(site=english)
    agent_solves(ask_for_a_human(visitor), present_agent)
    clock.advance(days=3)
    with pytest.raises(RatingRejected):
        csat_record(visitor_id=visitor.pk, rating=4)


@pytest.fixture
def qwen_priced() -> None:
    ModelPrice.objects.create(
        provider="qwen", model="qwen-plus", input_cny=Decimal(2), output_cny=Decimal(8)
    )


def test_model_cost_failover_and_errors_come_from_the_answers_usage(
    pipeline,
    english,
    returns_article,
    qwen_priced,
    chain,
    provider,
    backup,
    fresh_breaker,
    present_agent,
):
    chain(("deepseek/deepseek-chat", provider.url), ("qwen/qwen-plus", backup.url))
    # The first route refuses the key: the answer fails over to Qwen, which answers.
    provider.reply(openai_error(401, "bad key"))
    backup.reply(
        openai_stream(["You can return unused items within 30 days [1]."], usage=(1000, 500))
    )
    first, second = visitor_create(site=english), visitor_create(site=english)
    ask(first, "Can I return unused items within 30 days?")
    assert AnswerAudit.objects.get(conversation__visitor=first).decision == "answer"
    agent_session_seen(channel_name="test.mei")
    agent_solves(ask_for_a_human(second), present_agent)

    usage = usage_figures(site=english, period=period(english))
    assert (usage.calls, usage.failed_over, usage.failed) == (1, 1, 0)
    assert usage.attempts == 2
    assert usage.error_rate == 0.5
    assert usage.errors_by_kind == {"auth": 1}
    # 1000 input tokens at ¥2 and 500 output at ¥8 a million.
    assert usage.cost_cny == Decimal("0.006")
    qwen = next(m for m in usage.by_model if m.provider == "qwen")
    assert (qwen.input_tokens, qwen.output_tokens, qwen.error_rate) == (1000, 500, 0.0)

    insights = insights_compute(site=english, period=period(english, hours=73))
    assert insights.resolutions == 2  # one by the bot, one by Mei
    assert insights.cost_per_resolution == Decimal("0.0030")
