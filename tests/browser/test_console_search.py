"""The console's search box and who else is viewing a ticket, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.services import message_create
from apps.handoff.services import ticket_solve
from tests.browser.test_console import claimed_ticket, console_open
from tests.browser.test_console import console as console  # the fixture: Mei's console
from tests.conftest import agent_create

pytestmark = [pytest.mark.browser]


def test_the_search_box_filters_the_queue_at_once_and_finds_past_tickets(
    console, live_app, demo_site
):
    mei = demo_site.teams.get().members.get()
    expect(console.locator("#agent-list")).to_contain_text("online")
    refund = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    address = claimed_ticket(live_app, demo_site, mei, "Can I change my address?")
    lamp = claimed_ticket(live_app, demo_site, mei, "My lamp flickers")
    live_app.call(ticket_solve, ticket_id=lamp.pk, agent=mei)
    console.locator('.tabs [data-filter="mine"]').click()
    rows = console.locator("#ticket-list li")
    expect(rows).to_have_count(2)

    # By the subject, ignoring case; by the latest message, as it arrives and after a reload.
    search = console.locator("#search-text")
    search.fill("ADDRESS")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-ticket-id", str(address.pk))
    live_app.call(
        message_create,
        conversation_id=refund.conversation_id,
        author_kind="visitor",
        text="My tracking number is ZX81",
    )
    search.fill("zx81")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-ticket-id", str(refund.pk))
    console.reload()
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator("#search-text").fill("zx81")
    expect(rows).to_have_count(1)
    # The solved ticket is not in the queue: nothing here matches, until the server is asked.
    search.fill("lamp")
    expect(rows).to_have_count(0)
    expect(console.locator("#queue-no-match")).to_be_visible()
    expect(console.locator("#search-results")).to_be_hidden()
    search.press("Enter")
    expect(console.locator("#search-status")).to_have_text("1 ticket found, newest first.")
    found = console.locator("#search-list li")
    expect(found).to_have_count(1)
    expect(found.first).to_contain_text("solved")

    # A result is a Tab stop that opens with Enter, read-only: the ticket has ended.
    found.first.focus()
    console.keyboard.press("Enter")
    expect(console.locator("#transcript")).to_contain_text("My lamp flickers")
    expect(found.first).to_be_focused()
    expect(found.first).to_have_attribute("aria-current", "true")
    expect(console.locator("#send")).to_be_disabled()
    expect(console.locator("#composer-hint")).to_contain_text("read-only")

    # Clearing the box brings the whole tab back and puts the results away.
    search.fill("")
    expect(rows).to_have_count(2)
    expect(console.locator("#search-results")).to_be_hidden()


def test_agents_with_the_same_ticket_open_see_each_other(console, browser, live_app, demo_site):
    team = demo_site.teams.get()
    mei = team.members.get()
    li = agent_create("li", team=team)
    ticket = claimed_ticket(live_app, demo_site, mei, "Where is my parcel?")
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    viewers = console.locator("#ticket-viewers")
    expect(console.locator("#transcript")).to_contain_text("Where is my parcel?")
    expect(viewers).to_have_text("")

    context, li_console, errors = console_open(browser, live_app, li, locale="zh-CN")
    li_console.locator('.tabs [data-filter="team"]').click()
    li_console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    # Each console in its agent's language.
    expect(li_console.locator("#ticket-viewers")).to_have_text("Mei 也在查看此工单。")
    expect(viewers).to_have_text("Li is also viewing this ticket.")
    # A polite live region: a screen reader hears who came, once.
    expect(viewers).to_have_attribute("role", "status")

    console.locator("#composer-text").press_sequentially("On its way")
    expect(li_console.locator("#ticket-viewers")).to_have_text(
        "Mei 也在查看此工单。 Mei 正在输入回复。"
    )
    context.close()
    assert errors == []
    expect(viewers).to_have_text("")


def test_an_ended_ticket_found_by_the_search_is_open_again_after_a_reload_or_a_link(
    console, live_app, demo_site
):
    mei = demo_site.teams.get().members.get()
    expect(console.locator("#agent-list")).to_contain_text("online")
    lamp = claimed_ticket(live_app, demo_site, mei, "My lamp flickers")
    refund = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    live_app.call(ticket_solve, ticket_id=lamp.pk, agent=mei)
    transcript = console.locator("#transcript")
    console.locator("#search-text").fill("lamp")
    console.locator("#search-text").press("Enter")
    console.locator(f'#search-list [data-ticket-id="{lamp.pk}"]').click()
    expect(transcript).to_contain_text("My lamp flickers")

    # Not in the queue, yet the address names it: the reload opens it, read-only as before.
    console.reload()
    expect(transcript).to_contain_text("My lamp flickers")
    expect(console.locator("#ticket-view")).to_be_visible()
    expect(console.locator("#send")).to_be_disabled()
    expect(console.locator("#composer-hint")).to_contain_text("read-only")
    expect(console.locator("#ticket-viewers")).to_have_text("")

    # A link to it from another ticket opens it too.
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{refund.pk}"]').click()
    expect(transcript).to_contain_text("Where is my refund?")
    console.evaluate(f"location.hash = '#ticket-{lamp.pk}'")
    expect(transcript).to_contain_text("My lamp flickers")
    expect(console.locator("#send")).to_be_disabled()

    # A link to a ticket outside her teams opens nothing, says so, and leaves no stale ticket.
    console.evaluate(f"location.hash = '#ticket-{refund.pk + 1000}'")
    expect(console.locator("#toasts")).to_contain_text("This ticket is not in your teams")
    expect(console.locator("#ticket-view")).to_be_hidden()
    expect(console.locator("#no-ticket")).to_be_visible()
    assert console.evaluate("location.hash") == ""


def test_an_agent_with_a_ticket_open_in_two_tabs_is_told_in_each(console, live_app, demo_site):
    mei = demo_site.teams.get().members.get()
    expect(console.locator("#agent-list")).to_contain_text("online")
    ticket = claimed_ticket(live_app, demo_site, mei, "Where is my parcel?")
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    viewers = console.locator("#ticket-viewers")
    expect(console.locator("#transcript")).to_contain_text("Where is my parcel?")
    expect(viewers).to_have_text("")

    # The same ticket in a second tab of the same browser: each tab names the other.
    errors: list[str] = []
    tab = console.context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(live_app.url + f"/console/#ticket-{ticket.pk}")
    expect(tab.locator("#transcript")).to_contain_text("Where is my parcel?")
    elsewhere = "You also have this ticket open in another tab or window."
    expect(tab.locator("#ticket-viewers")).to_have_text(elsewhere)
    expect(viewers).to_have_text(elsewhere)

    # Typing there shows here, whose box does not hold that draft.
    tab.locator("#composer-text").press_sequentially("On its way")
    expect(viewers).to_have_text("You are typing a reply in another tab or window.")
    expect(console.locator("#composer-text")).to_have_value("")
    tab.close()
    assert errors == []
    expect(viewers).to_have_text("")
