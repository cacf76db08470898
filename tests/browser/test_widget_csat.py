"""The rating question after an agent hands the conversation back to the bot: it must not
interrupt the visitor, who carries on with the bot."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.analytics.models import CsatResponse
from apps.handoff.services import handoff_request, ticket_claim, ticket_hand_back, ticket_reply
from tests.browser.test_widget import send, widget
from tests.browser.test_widget_handoff import (  # noqa: F401 (fixtures)
    mei,
    online,
    open_chat,
    support,
    the_conversation,
)

pytestmark = [pytest.mark.browser]

QUESTION = "How would you rate the help you received?"


def with_an_agent(page, live_app, mei) -> int:  # noqa: F811
    """The visitor talked to the bot, then Mei claimed their ticket; return the ticket's id."""
    online(live_app, mei)
    open_chat(page, live_app)
    send(page, "My lamp flickers")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    outcome = live_app.call(
        handoff_request, conversation_id=the_conversation().pk, reason="customer_request"
    )
    live_app.call(ticket_claim, ticket_id=outcome.ticket_id, agent=mei)
    return outcome.ticket_id


def test_after_a_hand_back_the_rating_is_a_compact_entry_that_does_not_interrupt(
    page,
    live_app,
    demo_site,
    mei,  # noqa: F811 (the fixture imported above)
    answer,
):
    ticket_id = with_an_agent(page, live_app, mei)
    live_app.call(ticket_reply, ticket_id=ticket_id, agent=mei, text="Try another bulb.")
    expect(widget(page, ".msg.agent .bubble")).to_have_text("Try another bulb.")
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill("thanks, one more")  # typing when the agent hands back
    live_app.call(ticket_hand_back, ticket_id=ticket_id, agent=mei)

    expect(widget(page, ".state")).to_have_text("Virtual assistant")
    rating = page.get_by_role("group", name=QUESTION)
    expect(rating).to_be_visible()
    # Not a card over the composer: an entry of the conversation, after the hand-back notice.
    expect(widget(page, ".notice")).to_be_empty()
    expect(widget(page, ".list > :last-child")).to_have_class("card inlog")
    expect(widget(page, ".list > .msg.system + .inlog")).to_have_count(1)
    # Compact: the five ratings; the comment and Submit only once one is picked.
    expect(page.get_by_role("textbox", name="Comment (optional)")).to_be_hidden()
    expect(page.get_by_role("button", name="Submit rating")).to_be_hidden()
    # The focus stayed where the visitor was typing.
    expect(box).to_be_focused()
    expect(box).to_have_value("thanks, one more")

    # The bot's next answer comes below it, in view.
    answer.tokens = ["A ", "new ", "bulb ", "helps."]
    box.fill("Which bulb?")
    box.press("Enter")
    reply = widget(page, ".list .msg.bot").last
    expect(reply.locator(".bubble")).to_have_text("A new bulb helps.")
    expect(reply).to_be_in_viewport()
    expect(widget(page, ".list > .inlog + .msg.visitor")).to_have_count(1)

    # Still there to answer, in place: a pick shows the comment and Submit.
    widget(page, ".inlog .scale label").nth(4).click()
    expect(page.get_by_role("radio", name="5 – Excellent")).to_be_checked()
    page.get_by_role("button", name="Submit rating").click()
    expect(widget(page, ".list .inlog .done")).to_have_text("Thank you for your rating!")
    assert CsatResponse.objects.get().rating == 5

    # Offered once: the next page of the visit does not ask again.
    page.reload()
    expect(widget(page, ".list .msg.bot").last.locator(".bubble")).to_have_text("A new bulb helps.")
    page.wait_for_timeout(500)
    expect(page.get_by_role("group", name=QUESTION)).to_have_count(0)


def test_a_hand_back_rating_dismissed_goes_and_the_focus_stays(
    page,
    live_app,
    demo_site,
    mei,  # noqa: F811
    answer,
):
    live_app.call(ticket_hand_back, ticket_id=with_an_agent(page, live_app, mei), agent=mei)
    rating = page.get_by_role("group", name=QUESTION)
    expect(rating).to_be_visible()
    widget(page, ".inlog .x").click()
    expect(rating).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_visible()
