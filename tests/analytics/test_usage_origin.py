"""Provider reliability on Insights counts visitors' answers, not agent assist, checks or
llm_chat from the shell; their calls still cost."""

from __future__ import annotations

import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.analytics.selectors.common import period_for
from apps.analytics.selectors.usage import usage_figures
from apps.llm.models import UsageRecord
from tests.llm.fixtures import chain, fresh_breaker, llm_clients_closed, provider  # noqa: F401
from tests.llm.provider_replies import openai_error, openai_stream

pytestmark = pytest.mark.django_db(transaction=True)


def record(site, origin: str, outcome: str, *, purpose: str = "chat") -> None:
    UsageRecord.objects.create(
        call_id=uuid.uuid4(),
        purpose=purpose,
        origin=origin,
        site=site,
        provider="deepseek",
        model="deepseek-chat",
        outcome=outcome,
        error_kind="" if outcome == "complete" else "protocol",
        cost_cny=Decimal("0.001"),
    )


def test_reliability_counts_visitors_answers_and_cost_counts_every_call(site):
    record(site, "visitor", "complete")
    record(site, "command", "error")
    record(site, "assist", "error")
    record(site, "check", "error", purpose="check")
    usage = usage_figures(site=site, period=period_for(site=site, now=timezone.now(), days=2))

    assert (usage.calls, usage.failed, usage.failed_over) == (1, 0, 0)
    assert usage.answer_error_rate == 0.0
    assert usage.errors_by_kind == {}
    assert usage.other_calls == 2
    assert usage.cost_cny == Decimal("0.004")


def test_llm_chat_records_its_calls_as_made_from_the_command_line(chain, provider, site):  # noqa: F811
    chain(("deepseek/deepseek-chat", provider.url))
    provider.reply(openai_error(500, "down"), openai_stream(["Ships in 48 h."]))

    call_command("llm_chat", "shipping?", "--site", site.public_key, "--json", stdout=StringIO())

    assert set(UsageRecord.objects.values_list("origin", flat=True)) == {"command"}
