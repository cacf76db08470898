"""Attachments in Chromium: a visitor's PNG from a shop's page reaches the agent's console."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.models import Attachment
from tests.browser.test_console import console as console  # the fixture: Mei's console
from tests.browser.test_widget import embed, widget
from tests.chat import files

pytestmark = [pytest.mark.browser]


# Markup that would run if a name were ever parsed as HTML, in the widget or the console.
NAME = '"><img src=x onerror="window.__pwned=1">parcel.png'


def loaded(locator) -> bool:
    return locator.evaluate("img => img.complete && img.naturalWidth > 0")


def test_a_visitor_attaches_a_png_and_the_agent_sees_it_and_its_name_runs_nothing(
    page, console, live_app, demo_site, host_pages, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    demo_site.default_language = "en"
    demo_site.save(update_fields=["default_language"])
    expect(console.locator("#agent-list")).to_contain_text("online")

    # From a shop on another origin: the upload is cross-origin, as on a real site.
    page.goto(host_pages.serve("/shop", f"<!doctype html><title>Shop</title>{embed(live_app)}"))
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Talk to a human").click()
    expect(widget(page, ".state")).to_have_text("Waiting for an agent…")
    console.locator("#ticket-list li").first.click()

    page.get_by_role("textbox", name="Message", exact=True).fill("It arrived broken")
    widget(page, "input[type=file]").set_input_files(
        files=[{"name": NAME, "mimeType": "image/png", "buffer": files.png(40, 30)}]
    )

    # The widget shows the stored file, fetched with its signed URL, the box's text as caption.
    thumbnail = widget(page, ".msg.visitor img")
    expect(widget(page, ".msg.visitor .bubble").last).to_contain_text("It arrived broken")
    expect(thumbnail).to_have_attribute("alt", NAME)
    page.wait_for_function(
        "() => { const img = document.querySelector('csbot-widget').shadowRoot"
        ".querySelector('.msg.visitor img'); return img && img.src.includes('/api/attachments/')"
        " && img.complete && img.naturalWidth === 40 }"
    )
    attachment = Attachment.objects.get()
    assert attachment.name == NAME
    assert (attachment.width, attachment.height) == (40, 30)

    # The agent's transcript shows it as a thumbnail that opens the full image.
    shown = console.locator("#transcript .msg.visitor img")
    expect(shown).to_have_attribute("alt", NAME)
    expect(console.locator("#transcript .msg.visitor").last).to_contain_text("It arrived broken")
    console.wait_for_function(
        "() => { const img = document.querySelector('#transcript .msg.visitor img');"
        " return img && img.complete && img.naturalWidth === 40 }"
    )
    assert loaded(shown)
    assert (
        console.locator("#transcript .msg.visitor a.attachment")
        .get_attribute("href")
        .startswith(f"{live_app.url}/api/attachments/{attachment.pk}?s=")
    )

    # The name is text in both: no element it names exists, no handler ran.
    for where in (page, console):
        assert where.evaluate("window.__pwned ?? null") is None
    assert (
        page.evaluate(
            "() => [...document.querySelector('csbot-widget').shadowRoot.querySelectorAll('*')]"
            ".flatMap(el => [...el.attributes]).filter(a => a.name.startsWith('on')).length"
        )
        == 0
    )
    assert console.locator("#transcript img").count() == 1
