"""The console shows messages as the visitor's widget does: the widget's markdown renderer, the
reply controls never hidden."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.services import message_create
from apps.handoff.models import Ticket
from tests.browser.test_console import claimed_ticket, console  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser]

BOT = "**Please try** this:\n- unplug the lamp\n- wait `10 s`\n\nSee [the guide](https://example.com/lamp)."


def open_mine(console, ticket) -> None:  # noqa: F811
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()


def bot_answer_shown(console, live_app, site, question: str, answer: str, citations=()):  # noqa: F811
    """Open Mei's ticket of a visitor who wrote ``question`` and the bot answered ``answer``;
    return the answer's body in the transcript."""
    ticket = claimed_ticket(live_app, site, site.teams.get().members.get(), question)
    live_app.call(
        message_create,
        conversation_id=ticket.conversation_id,
        author_kind="bot",
        text=answer,
        citations=list(citations),
    )
    open_mine(console, ticket)
    return console.locator("#transcript .msg.bot .body")


def test_bot_and_agent_markdown_renders_as_in_the_widget_visitor_text_stays_plain(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
):
    bot = bot_answer_shown(console, live_app, demo_site, "**not bold** <b>nor this</b>", BOT)
    expect(bot.locator("strong")).to_have_text("Please try")
    expect(bot.locator("ul > li")).to_have_text(["unplug the lamp", "wait 10 s"])
    expect(bot.locator("code")).to_have_text("10 s")
    link = bot.get_by_role("link", name="the guide")
    expect(link).to_have_attribute("href", "https://example.com/lamp")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(bot).not_to_contain_text("**")

    # The agent's own reply too, as it arrives live.
    box = console.locator("#composer-text")
    box.fill("Done:\n1. *first*\n2. second")
    box.press("Enter")
    agent = console.locator("#transcript .msg.agent .body").last
    expect(agent.locator("ol > li")).to_have_text(["first", "second"])
    expect(agent.locator("em")).to_have_text("first")

    # What the visitor wrote is what they typed, as their widget shows it: no markdown, no HTML.
    visitor = console.locator("#transcript .msg.visitor .body").first
    expect(visitor).to_have_text("**not bold** <b>nor this</b>")
    expect(visitor.locator("strong, b")).to_have_count(0)
    # The renderer came from the widget's file without booting a widget on the console.
    assert console.evaluate("typeof window.csbotRender.markdown") == "function"
    assert console.evaluate("!window.csbot && !document.querySelector('csbot-widget')")


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", [1400, 1000])
def test_the_toast_after_claiming_leaves_the_reply_controls_free(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
    width,
):
    console.set_viewport_size({"width": width, "height": 800})
    mei = demo_site.teams.get().members.get()
    ticket = claimed_ticket(live_app, demo_site, mei, "My lamp is broken", claim=False)
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    console.locator("#claim").click()
    toast = console.locator("#toasts .toast")
    expect(toast).to_have_text("You have the ticket. The visitor is told you joined.")
    assert Ticket.objects.get(pk=ticket.pk).assignee == mei
    box = toast.bounding_box()
    for control in ["#composer", "#composer-text", "#composer button[type=submit]", "#details"]:
        target = console.locator(control).first
        if target.is_visible():
            assert not overlaps(box, target.bounding_box()), control


def test_the_streaming_cursor_ends_the_rendered_answers_last_line(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
):
    mei = demo_site.teams.get().members.get()
    ticket = claimed_ticket(live_app, demo_site, mei, "Is it broken?")
    live_app.call(
        message_create,
        conversation_id=ticket.conversation_id,
        author_kind="bot",
        text="First **check** the plug",
        state="streaming",
    )
    open_mine(console, ticket)
    line = console.locator("#transcript .msg.bot.streaming .body p")
    expect(line).to_have_text("First check the plug")
    # The cursor is on the paragraph's line, not a line of its own below it.
    body = console.locator("#transcript .msg.bot.streaming .body")
    assert line.evaluate("el => getComputedStyle(el, '::after').content") == '"▍"'
    assert body.evaluate("el => getComputedStyle(el, '::after').content") == "none"


def test_a_bot_answers_citations_link_to_the_sources_the_server_sent_and_no_others(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
):
    citations = [
        {"n": 1, "title": "Returns policy", "url": "https://shop.example/returns"},
        {"n": 2, "title": "Lamp care", "url": "/kb/demo/lamp-care"},
        {"n": 3, "title": "Trap", "url": "javascript:alert(1)"},
    ]
    text = "Returns are free [1], see care [2]. Also [3] and [4], and [x](javascript:alert(1))."
    bot = bot_answer_shown(console, live_app, demo_site, "Can I return a lamp?", text, citations)

    cites = bot.locator("a.cite")
    expect(cites).to_have_text(["[1]", "[2]"])
    expect(cites.first).to_have_attribute("href", "https://shop.example/returns")
    expect(cites.first).to_have_attribute("aria-label", "Source 1: Returns policy")
    expect(cites.first).to_have_attribute("target", "_blank")
    expect(cites.first).to_have_attribute("rel", "noopener noreferrer")
    expect(cites.last).to_have_attribute("href", live_app.url + "/kb/demo/lamp-care")
    # No script address becomes a link; a number the answer does not cite stays text.
    expect(bot).to_contain_text("Also [3] and [4], and x.")
    assert bot.evaluate("b => [...b.querySelectorAll('a')].map(a => a.protocol)") == [
        "https:",
        "http:",
    ]
