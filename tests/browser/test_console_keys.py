"""The console's keyboard shortcuts that reach beyond the open ticket, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import claimed_ticket
from tests.browser.test_console import console as console  # the fixture: Mei's console

pytestmark = [pytest.mark.browser]


def test_slash_puts_the_focus_in_the_search_box_unless_typing(console, live_app, demo_site):
    mei = demo_site.teams.get().members.get()
    expect(console.locator("#agent-list")).to_contain_text("online")
    refund = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    claimed_ticket(live_app, demo_site, mei, "Can I change my address?")
    console.locator('.tabs [data-filter="mine"]').click()
    rows = console.locator("#ticket-list li")
    expect(rows).to_have_count(2)
    search = console.locator("#search-text")
    # Shown on the box as the help button shows its own, and announced with it.
    expect(search).to_have_attribute("placeholder", "Search tickets (/)")
    expect(search).to_have_attribute("aria-keyshortcuts", "/")

    # With a ticket open and its row focused: the search takes the focus, nothing typed in it.
    console.locator(f'[data-ticket-id="{refund.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Where is my refund?")
    console.keyboard.press("/")
    expect(search).to_be_focused()
    expect(search).to_have_value("")
    console.keyboard.type("address")
    expect(rows).to_have_count(1)
    # From the list again, "/" comes back with the words selected: typing replaces them.
    rows.first.click()
    expect(console.locator("#transcript")).to_contain_text("Can I change my address?")
    console.keyboard.press("/")
    expect(search).to_be_focused()
    console.keyboard.type("refund")
    expect(search).to_have_value("refund")
    expect(rows).to_have_count(1)

    # In a text box "/" is a character: in the reply box it starts a canned reply.
    console.locator(f'[data-ticket-id="{refund.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Where is my refund?")
    console.keyboard.press("r")
    box = console.locator("#composer-text")
    expect(box).to_be_focused()
    console.keyboard.press("/")
    expect(box).to_have_value("/")
    expect(search).to_have_value("refund")

    # The help lists it beside the others (Esc closes the canned menu, then leaves the box).
    console.keyboard.press("Escape")
    console.keyboard.press("Escape")
    console.keyboard.press("?")
    row = console.locator("#help-dialog tr", has_text="Search tickets")
    expect(row.locator("kbd")).to_have_text("/")
