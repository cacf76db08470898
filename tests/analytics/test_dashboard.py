"""The insights page and its CSV export: who may see what, and what the rows say."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.analytics.services import csat_record, feedback_record
from apps.chat.services import visitor_create
from apps.llm.models import ModelPrice
from tests.analytics.flows import agent_solves, ask, ask_for_a_human, bot_replies
from tests.llm.fixtures import chain, fresh_breaker, llm_clients_closed, provider
from tests.llm.provider_replies import openai_stream

__all__ = ["chain", "fresh_breaker", "llm_clients_closed", "provider"]

pytestmark = [pytest.mark.django_db(transaction=True)]

URL = "/console/insights/"
EXPORT = "/console/insights/export.csv"
# A visitor's comment that is both markup and a spreadsheet formula.
EVIL = '=HYPERLINK("<script>alert(1)</script>")'


def user(username: str, **flags: bool):
    return get_user_model().objects.create_user(username=username, **flags)


def rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def seeded(english, visitor, other_visitor, present_agent):
    """One conversation the bot answered (thumbs down), one an agent solved (rated 5)."""
    ask(visitor, "How much is shipping?")
    [answer] = bot_replies(visitor)
    feedback_record(visitor_id=visitor.pk, message_id=answer.pk, value="down", comment=EVIL)
    ticket = ask_for_a_human(other_visitor)
    agent_solves(ticket, present_agent, reply="您好，已为您处理。")
    csat_record(visitor_id=other_visitor.pk, rating=5, comment="很快")
    return ticket


def test_anonymous_visitors_are_sent_to_sign_in(client, site):
    for url in (URL, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_signed_in_users_who_are_not_staff_are_refused(client, site):
    client.force_login(user("shopper"))
    assert client.get(URL).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_staff_see_only_the_sites_of_their_teams(client, seeded, site, other_agent):
    client.force_login(other_agent)
    page = client.get(URL)
    assert page.status_code == 200
    assert page.context["insights"].site.name == "Other shop"
    assert [s.name for s in page.context["form"].fields["site"].queryset] == ["Other shop"]
    # Another site's key is not one of theirs: no figures, no rows, no hint that it exists.
    assert client.get(URL, {"site": site.public_key}).status_code == 400
    assert client.get(EXPORT, {"site": site.public_key}).status_code == 400


def test_staff_without_a_team_are_told_they_have_no_site(client, seeded):
    client.force_login(user("editor", is_staff=True))
    page = client.get(URL)
    assert page.status_code == 200
    assert page.context["no_sites"]
    assert b"There is no site whose figures you may see" in page.content


def test_the_permission_or_superuser_shows_every_site(client, seeded, site, other_site):
    manager = user("manager", is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="view_all_insights"))
    admin = user("root", is_staff=True, is_superuser=True)
    for person in (manager, admin):
        client.force_login(person)
        page = client.get(URL, {"site": site.public_key})
        assert page.status_code == 200
        assert {s.pk for s in page.context["form"].fields["site"].queryset} == {
            site.pk,
            other_site.pk,
        }


def test_the_page_shows_the_periods_figures_and_the_data_its_charts_draw(
    client, seeded, site, agent
):
    client.force_login(agent)
    page = client.get(URL, {"site": site.public_key})
    assert page.status_code == 200
    summary = page.context["summary"]
    assert summary["conversations"]["total"] == 2
    assert summary["conversations"]["resolved_agent"] == 1
    assert summary["conversations"]["open"] == 1
    assert summary["handoffs_by_reason"]["customer_request"]["count"] == 1
    assert summary["csat"]["average"] == 5.0
    assert (summary["feedback"]["up"], summary["feedback"]["down"]) == (0, 1)
    html = page.content.decode()
    for chart in ("chart-outcomes", "chart-reasons", "chart-cost", "chart-csat", "chart-errors"):
        assert f'id="{chart}"' in html
    assert 'id="insights-data"' in html
    assert "/static/analytics/vendor/chart.umd.min.js" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html  # the complaint is shown, escaped
    charts = page.context["charts"]
    assert len(charts["days"]) == 30
    assert sum(sum(series["values"]) for series in charts["outcomes"]) == 2


def test_a_bad_date_is_refused_not_guessed(client, seeded, site, agent):
    client.force_login(agent)
    assert client.get(URL, {"site": site.public_key, "from": "yesterday"}).status_code == 400
    # Days at the ends of the calendar overflowed the period's arithmetic: a 500.
    for dates in ({"to": "9999-12-31"}, {"from": "0001-01-01", "to": "0001-01-31"}):
        assert client.get(URL, {"site": site.public_key, **dates}).status_code == 400
        assert client.get(EXPORT, {"site": site.public_key, **dates}).status_code == 400


def test_the_conversation_rows_carry_each_outcome(client, seeded, site, agent, visitor):
    client.force_login(agent)
    response = client.get(EXPORT, {"site": site.public_key, "rows": "conversations"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    exported = rows(response)
    assert len(exported) == 2
    by_visitor = {row["visitor_id"]: row for row in exported}
    mine = by_visitor[str(visitor.public_id)]
    assert (mine["outcome"], mine["thumbs_down"]) == ("open", "1")
    [theirs] = [row for row in exported if row is not mine]
    assert (theirs["outcome"], theirs["handoff_reason"]) == ("resolved_agent", "customer_request")


def test_the_ticket_rows_carry_sla_clocks_and_the_rating(client, seeded, site, agent):
    client.force_login(agent)
    [row] = rows(client.get(EXPORT, {"site": site.public_key, "rows": "tickets"}))
    assert int(row["ticket_id"]) == seeded.pk
    assert (row["status"], row["assignee"], row["csat_rating"]) == ("solved", "mei", "5")
    assert row["first_response_in_time"] == "yes"
    assert int(row["first_response_seconds"]) >= 0
    assert row["csat_comment"] == "很快"


def test_exported_comments_cannot_run_as_spreadsheet_formulas(client, seeded, site, agent):
    client.force_login(agent)
    [row] = rows(client.get(EXPORT, {"site": site.public_key, "rows": "feedback"}))
    assert row["comment"] == "'" + EVIL
    assert row["value"] == "down"


def test_unknown_rows_are_refused(client, seeded, site, agent):
    client.force_login(agent)
    assert client.get(EXPORT, {"site": site.public_key, "rows": "passwords"}).status_code == 400


def test_a_site_with_no_conversations_shows_empty_figures(client, english, agent):
    visitor_create(site=english)
    client.force_login(agent)
    page = client.get(URL)
    assert page.status_code == 200
    assert page.context["summary"]["conversations"]["total"] == 0
    assert page.context["summary"]["conversations"]["bot_resolution_rate"] is None
    assert b"No gaps" in page.content


def test_the_export_links_are_worded_in_the_staff_members_language(client, seeded, present_agent):
    client.force_login(present_agent)
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    labels = [str(label) for label, _ in page.context["exports"]]
    assert labels == ["会话", "工单", "评价", "模型用量"]
    urls = [url for _, url in page.context["exports"]]
    assert [url.rsplit("rows=", 1)[1] for url in urls] == [
        "conversations",
        "tickets",
        "feedback",
        "usage",
    ]


def cost_shown(page) -> tuple[str, str]:
    """The cost card's figure and the cost cell of the deepseek row, as the page shows them."""
    html = page.content.decode()
    card = re.search(r'data-kpi="cost">(.*?)</div>', html, re.DOTALL)
    row = re.search(r"<tr><td>deepseek / deepseek-chat</td>.*?</tr>", html)
    assert card
    assert row
    figure = re.sub(r"<[^>]+>", " ", card.group(1))
    return " ".join(figure.split()), re.findall(r"<td>(.*?)</td>", row.group(0))[-1]


def test_calls_to_a_model_without_a_price_cost_unknown_not_zero(
    client, pipeline, english, returns_article, agent, chain, provider, fresh_breaker
):
    chain(("deepseek/deepseek-chat", provider.url))
    answer = openai_stream(["You can return unused items within 30 days [1]."], usage=(1000, 500))
    provider.reply(answer)
    ask(visitor_create(site=english), "Can I return unused items within 30 days?")
    client.force_login(agent)

    unpriced = client.get(URL, {"site": english.public_key})

    assert cost_shown(unpriced) == ("Model cost — unknown: no price is configured", "—")
    assert "¥0.00" not in unpriced.content.decode()
    assert "No price is configured for deepseek/deepseek-chat:" in unpriced.content.decode()

    # Priced from now on: the next answer is counted, the first one still is not.
    ModelPrice.objects.create(
        provider="deepseek", model="deepseek-chat", input_cny=Decimal(2), output_cny=Decimal(8)
    )
    provider.reply(answer)
    # Another question: the same one would be answered from the answer cache, without a call.
    ask(visitor_create(site=english), "Are unused items returnable within 30 days?")

    partly = client.get(URL, {"site": english.public_key})

    assert cost_shown(partly)[1] == "0.0060*"
    assert cost_shown(partly)[0].startswith("Model cost ¥0.01*")
    assert "No price is configured for deepseek/deepseek-chat:" in partly.content.decode()
    chinese = client.get(URL, {"site": english.public_key}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "deepseek/deepseek-chat 未配置价格" in chinese.content.decode()
