"""Agent assist in the console: a suggestion, or a clear word that there is none."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import claimed_ticket, console  # noqa: F401 (fixture)
from tests.browser.test_console_render import open_mine

pytestmark = [pytest.mark.browser]


def ask_for_a_suggestion(console, live_app, site, question: str) -> None:  # noqa: F811
    """Open Mei's ticket of a visitor who wrote ``question`` and ask for a suggested reply."""
    ticket = claimed_ticket(live_app, site, site.teams.get().members.get(), question)
    open_mine(console, ticket)
    console.get_by_role("button", name="Suggest a reply").click()


def test_a_visitor_who_only_said_yes_gets_no_suggestion_and_the_agent_is_told(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
    answer,
):
    ask_for_a_suggestion(console, live_app, demo_site, "yes")
    expect(console.locator(".toast.error")).to_have_text(
        "The visitor has not asked a question yet: there is nothing to suggest."
    )
    expect(console.locator("#suggestion")).to_be_hidden()
    assert answer.token_times == []  # the answerer was not asked


def test_an_empty_suggestion_is_not_shown_as_an_empty_box(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
    answer,
):
    answer.tokens = []
    ask_for_a_suggestion(console, live_app, demo_site, "Do you sell lamp shades?")
    expect(console.locator(".toast.error")).to_have_text(
        "No suggestion could be made; write the reply yourself."
    )
    expect(console.locator("#suggestion")).to_be_hidden()
    expect(console.locator("#composer-hint")).to_have_text("")


def test_a_suggestion_edited_into_the_reply_drops_its_citation_markers(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
    answer,
):
    answer.tokens = [
        "“Alipay and WeChat Pay refunds arrive within 1–3 days.” [1] ",
        "Cards [2]: a week.",
    ]
    answer.citations = [
        {"n": 1, "title": "Refunds", "url": "https://example.com/refunds"},
        {"n": 2, "title": "Cards", "url": "https://example.com/cards"},
    ]
    ask_for_a_suggestion(console, live_app, demo_site, "When does my refund arrive?")
    console.get_by_role("button", name="Edit in reply").click()
    # The visitor would see a bare "[1]": the sources stay with the agent, under the suggestion.
    expect(console.locator("#composer-text")).to_have_value(
        "“Alipay and WeChat Pay refunds arrive within 1–3 days.” Cards: a week."
    )


def test_nothing_in_the_knowledge_base_is_a_notice_not_a_suggestion(
    console,  # noqa: F811 (the fixture imported above)
    live_app,
    demo_site,
    answer,
):
    answer.tokens = [
        "I couldn't find this in our help centre. ",
        "Would you like to talk to someone?",
    ]
    answer.grounded = False
    ask_for_a_suggestion(console, live_app, demo_site, "Do you sell lamp shades?")
    expect(console.locator(".toast.error")).to_have_text(
        "The knowledge base has nothing for this question: there is nothing to suggest."
    )
    expect(console.locator("#suggestion")).to_be_hidden()
    expect(console.locator("#composer-hint")).to_have_text("")
