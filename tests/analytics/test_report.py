"""``outcomes_report``: the dashboard's figures in a terminal, as text or JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.analytics.services import csat_record
from apps.chat.services import visitor_create
from tests.analytics.flows import agent_solves, ask, ask_for_a_human

pytestmark = [pytest.mark.django_db(transaction=True)]


def report(*args: str) -> str:
    out = StringIO()
    call_command("outcomes_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(pipeline, english, help_centre, present_agent):
    ask(visitor_create(site=english), "Do you sell gift cards?")
    helped = visitor_create(site=english)
    agent_solves(ask_for_a_human(helped), present_agent)
    csat_record(visitor_id=helped.pk, rating=4)


def test_json_has_every_figure_of_the_dashboard(seeded, english):
    figures = json.loads(report("--site", english.public_key, "--days", "7", "--json"))

    assert figures["site"] == {"key": english.public_key, "name": "Shop"}
    assert figures["period"]["reopen_window_hours"] == 72
    conversations = figures["conversations"]
    assert (conversations["total"], conversations["resolved_agent"], conversations["open"]) == (
        2,
        1,
        1,
    )
    assert conversations["bot_resolution_rate"] == 0.0
    assert figures["handoffs_by_reason"] == {"customer_request": {"count": 1, "rate": 1.0}}
    assert figures["tickets"]["total"] == 1
    assert figures["tickets"]["first_response"]["met_rate"] == 1.0
    assert figures["csat"]["average"] == 4.0
    assert len(figures["daily"]) == 7
    assert [gap["question"] for gap in figures["knowledge_gaps"]] == ["Do you sell gift cards?"]


def test_text_names_the_outcomes_and_the_gaps(seeded, english):
    text = report("--site", english.public_key)
    assert "resolved by agent      1" in text
    assert "Handoff rate      100.0%" in text
    assert "customer_request" in text
    assert "1×  Do you sell gift cards?" in text


def test_an_unknown_site_or_a_bad_period_is_refused(english):
    with pytest.raises(CommandError, match="no site"):
        report("--site", "site_nope")
    with pytest.raises(CommandError, match="--days"):
        report("--site", english.public_key, "--days", "0")
