"""The embeddable widget, driven in headless Chromium against the real server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.models import Message

pytestmark = [pytest.mark.browser]


def test_reply_streams_in_and_history_survives_a_reload(page, live_app, demo_site, answer):
    answer.tokens = ["Parcels ", "ship ", "within ", "**48 hours** ", "[1]."]
    answer.citations = [
        {"n": 1, "title": "Shipping policy", "url": "https://shop.example.com/shipping"}
    ]
    answer.hold_after = 2
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("textbox", name="Message").fill("How fast do you ship?")
    page.get_by_role("button", name="Send").click()

    reply = page.locator("csbot-widget .msg.bot[data-seq='2'] .bubble")
    expect(reply).to_have_text("Parcels ship")
    answer.release.set()
    expect(reply).to_have_text("Parcels ship within 48 hours [1].")
    assert Message.objects.filter(author_kind="bot", state="complete").count() == 1

    page.reload()
    expect(page.locator("csbot-widget .msg.visitor .bubble")).to_have_text(
        ["How fast do you ship?"]
    )
    expect(page.locator("csbot-widget .msg.bot[data-seq='2'] .bubble")).to_have_text(
        "Parcels ship within 48 hours [1]."
    )
