"""The insights dashboard in Chromium: a staff member opens it and the charts draw the data."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.analytics.services import csat_record, feedback_record
from apps.chat.services import visitor_create
from apps.handoff.models import Team
from apps.handoff.services.presence import agent_session_open
from apps.knowledge.models import Status
from apps.knowledge.search.embedders import embedder_reset
from apps.knowledge.search.engine import indexes_drop
from apps.knowledge.services.content import collection_create, faq_create
from tests.analytics.flows import agent_solves, ask, ask_for_a_human, bot_replies
from tests.conftest import agent_create
from tests.handoff.sockets import session_cookie

pytestmark = [pytest.mark.browser]

# How many pixels of a colour a canvas holds (alpha > 0, each channel within 8 of the target).
COUNT_COLOUR = """([id, hex]) => {
  const canvas = document.getElementById(id);
  const target = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] > 0 && target.every((v, c) => Math.abs(pixels[i + c] - v) <= 8)) count++;
  }
  return count;
}"""


def seed(*, site_id: int, agent_id: int) -> None:
    """A day of the shop: FAQ answers, a thumbs down, two gaps, two handoffs solved and rated."""
    from django.contrib.auth import get_user_model

    from apps.sites.models import Site

    site = Site.objects.get(pk=site_id)
    agent = get_user_model().objects.get(pk=agent_id)
    agent_session_open(user=agent, channel_name="test.mei")
    collection = collection_create(name="Help centre")
    collection.sites.add(site)
    faq_create(
        collection=collection,
        question="运费多少？",
        answer="满99元包邮。",
        language="zh-hans",
        status=Status.PUBLISHED,
    )
    for _ in range(2):
        ask(visitor_create(site=site), "运费多少？")
    unhappy = visitor_create(site=site)
    ask(unhappy, "运费多少？")
    [answer] = bot_replies(unhappy)
    feedback_record(visitor_id=unhappy.pk, message_id=answer.pk, value="down", comment="没用")
    ask(visitor_create(site=site), "可以开发票吗")
    ask(visitor_create(site=site), "能开发票吗")
    for rating in (5, 3):
        helped = visitor_create(site=site)
        agent_solves(ask_for_a_human(helped), agent)
        csat_record(visitor_id=helped.pk, rating=rating)


@pytest.fixture
def pipeline(settings):
    """The real answering pipeline, searching by words only (no embedding model to load)."""
    settings.CSBOT_ANSWERER = "apps.bot.pipeline.answer"
    settings.CSBOT_EMBEDDINGS = "off"
    indexes_drop()
    embedder_reset()
    yield
    indexes_drop()


def test_a_staff_member_sees_the_charts_drawn_from_the_sites_data(
    new_context, live_app, demo_site, pipeline
):
    mei = agent_create("mei", team=Team.objects.create(site=demo_site, name="Support"))
    live_app.call(seed, site_id=demo_site.pk, agent_id=mei.pk)
    name, value = session_cookie(mei).split("=", 1)
    context = new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": name, "value": value, "url": live_app.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_app.url}/console/insights/?site={demo_site.public_key}")

    expect(page.locator('[data-kpi="handoff"] strong')).to_have_text("100.0%")
    expect(page.locator('[data-kpi="csat"] strong')).to_have_text("4.00 / 5")
    expect(page.locator('[data-kpi="thumbs"] .kpi-sub')).to_have_text("0 up · 1 down")
    for chart in ("chart-outcomes", "chart-reasons", "chart-cost", "chart-csat", "chart-errors"):
        expect(page.locator(f"#{chart}")).to_be_visible()
    # Bars in the outcome colours: still open (grey: 5 conversations) and solved by an agent
    # (blue: 2), and the handoff reason and both ratings.
    page.wait_for_function(
        f"() => ({COUNT_COLOUR})(['chart-outcomes', '#2563eb']) > 50"
        f" && ({COUNT_COLOUR})(['chart-outcomes', '#9ca3af']) > 50",
    )
    assert page.evaluate(COUNT_COLOUR, ["chart-reasons", "#f59e0b"]) > 50
    assert page.evaluate(COUNT_COLOUR, ["chart-csat", "#16a34a"]) > 50  # the 5
    assert page.evaluate(COUNT_COLOUR, ["chart-csat", "#facc15"]) > 50  # the 3
    assert page.evaluate(COUNT_COLOUR, ["chart-csat", "#dc2626"]) == 0  # no 1
    # The complaint is listed; the invoice questions are one gap, with its FAQ draft link.
    expect(page.locator(".complaints")).to_contain_text("没用")
    gap = page.locator(".gap").first
    expect(gap.locator(".gap-question")).to_have_text("可以开发票吗")
    expect(gap.locator(".examples")).to_have_text("能开发票吗")
    draft = gap.get_by_role("link", name="Create FAQ draft")
    assert draft.get_attribute("href").startswith("/admin/knowledge/faqentry/add/?question=")
    # The export links carry the same site and days.
    export = page.get_by_role("link", name="conversations")
    assert f"site={demo_site.public_key}" in export.get_attribute("href")
    assert errors == []
