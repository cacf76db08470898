"""Leaving the page with a file the widget has not sent: the browser asks first.

Files are not kept across pages as the outbox's texts are (docs/widget.md, Attachments).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_widget import widget
from tests.chat import files

pytestmark = [pytest.mark.browser]


def pick(page, name: str, content: bytes) -> None:
    widget(page, "input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": content}]
    )


def test_leaving_with_a_file_still_uploading_asks_first_and_a_refused_one_does_not(
    page, live_app, demo_site, settings
):
    settings.CSBOT_ATTACHMENT_MAX_BYTES = 64 * 1024
    held = []
    # The upload gets no answer: it is still sending (its route held, never fulfilled).
    page.route("**/attachments", lambda route: held.append(route))
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()  # the visitor has used the page

    # Refused for itself (too large): sending it again can never work, nothing is lost.
    pick(page, "big.png", files.png() + bytes(70_000))
    expect(widget(page, ".msg.visitor.failed .meta")).to_contain_text("This file is too large.")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.reload()
    assert asked == []

    # The panel stayed open; a click in it uses the reloaded page (browsers ask only then).
    page.get_by_role("textbox", name="Message", exact=True).click()

    # "Sending" shows as the request leaves, before the route has it: wait for the request.
    with page.expect_request("**/attachments"):
        pick(page, "screen.png", files.png())
    expect(widget(page, ".msg.visitor.pending .meta")).to_contain_text("Sending")
    with page.expect_event("dialog"):
        page.close(run_before_unload=True)
    assert asked == ["beforeunload"]
    # Dismissed, the page stays, the file still on its way.
    assert not page.is_closed()
    expect(widget(page, ".msg.visitor.pending .meta")).to_contain_text("Sending")
