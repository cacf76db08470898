"""``outcomes_report``: the dashboard's figures in a terminal, as text or JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.analytics.services import csat_record
from apps.chat.services import visitor_create
from apps.llm.models import ModelPrice
from tests.analytics.flows import agent_solves, ask, ask_for_a_human
from tests.llm.fixtures import chain, fresh_breaker, llm_clients_closed, provider
from tests.llm.provider_replies import openai_stream

__all__ = ["chain", "fresh_breaker", "llm_clients_closed", "provider"]

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
    assert "No price is configured" not in text


# The dashboard's note on models without a price (analytics/insights.html), in the same words.
UNPRICED_NOTE = (
    "  No price is configured for deepseek/deepseek-chat: what their tokens cost is unknown (—) "
    "or left out of the sums (*). Add their prices under Models → Model prices."
)


def test_model_cost_without_a_price_is_unknown_not_zero_and_the_model_is_named(
    pipeline, english, returns_article, chain, provider, fresh_breaker
):
    chain(("deepseek/deepseek-chat", provider.url))
    answer = openai_stream(["You can return unused items within 30 days [1]."], usage=(1000, 500))
    provider.reply(answer)
    ask(visitor_create(site=english), "Can I return unused items within 30 days?")

    unpriced = report("--site", english.public_key).splitlines()

    assert "Model cost        — (unknown: no price is configured)" in unpriced
    assert UNPRICED_NOTE in unpriced
    assert not any("¥0.00" in line for line in unpriced)
    models = json.loads(report("--site", english.public_key, "--json"))["models"]
    assert (models["cost_unknown"], models["unpriced_attempts"]) == (True, 1)
    assert models["by_model"][0]["cost_unknown"] is True

    # Priced from now on: the next answer is counted, the first one still is not.
    ModelPrice.objects.create(
        provider="deepseek", model="deepseek-chat", input_cny=Decimal(2), output_cny=Decimal(8)
    )
    provider.reply(answer)
    ask(visitor_create(site=english), "Are unused items returnable within 30 days?")

    partly = report("--site", english.public_key).splitlines()

    assert "Model cost        ¥0.01*; per resolution —" in partly
    assert UNPRICED_NOTE in partly
    models = json.loads(report("--site", english.public_key, "--json"))["models"]
    assert (models["cost_unknown"], models["unpriced_attempts"]) == (False, 1)


def test_an_unknown_site_or_a_bad_period_is_refused(english):
    with pytest.raises(CommandError, match="no site"):
        report("--site", "site_nope")
    with pytest.raises(CommandError, match="--days"):
        report("--site", english.public_key, "--days", "0")
