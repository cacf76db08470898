"""Web addresses with parentheses, as Wikipedia's, link whole in the widget and the console."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.services import message_create
from tests.browser.test_console import claimed_ticket, console  # noqa: F401 (fixture)
from tests.browser.test_widget import send, widget

pytestmark = [pytest.mark.browser]

LIGHT = "https://en.wikipedia.org/wiki/Light_(disambiguation)"
LAMP = "https://en.wikipedia.org/wiki/Lamp_(furniture)"
ANSWER = f"Read [the guide]({LIGHT}), or {LAMP}. (Also https://example.com/a.)"


def expect_links(body) -> None:
    guide = body.get_by_role("link", name="the guide")
    expect(guide).to_have_attribute("href", LIGHT)
    expect(body.locator(f"a[href='{LAMP}']")).to_have_text(LAMP)
    # The sentence's own ")" and "." stay outside.
    expect(body.locator("a[href='https://example.com/a']")).to_have_text("https://example.com/a")
    expect(body).to_have_text(f"Read the guide, or {LAMP}. (Also https://example.com/a.)")


def test_balanced_parentheses_belong_to_the_link_in_the_widget(page, live_app, demo_site, answer):
    answer.tokens = [ANSWER]
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "Where is the lamp guide?")
    expect_links(widget(page, ".msg.bot[data-seq='2'] .bubble"))


def test_balanced_parentheses_belong_to_the_link_in_the_console(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
):
    mei = demo_site.teams.get().members.get()
    ticket = claimed_ticket(live_app, demo_site, mei, f"Is it {LAMP}? (or https://example.com/b)")
    live_app.call(
        message_create, conversation_id=ticket.conversation_id, author_kind="bot", text=ANSWER
    )
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    expect_links(console.locator("#transcript .msg.bot .body"))
    # The visitor's plain text links its addresses the same way.
    visitor = console.locator("#transcript .msg.visitor .body").first
    expect(visitor.locator("a")).to_have_text([LAMP, "https://example.com/b"])
    expect(visitor.locator(f"a[href='{LAMP}']")).to_have_count(1)
