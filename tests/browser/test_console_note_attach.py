"""A file chosen while the console writes an internal note never reaches the visitor."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.models import Attachment
from tests.browser.test_attachments import english_visitor_claimed
from tests.browser.test_console import console as console  # the fixture: Mei's console
from tests.browser.test_widget import widget
from tests.chat import files

pytestmark = [pytest.mark.browser]


def test_a_file_chosen_beside_an_internal_note_is_not_uploaded_to_the_visitor(
    page, console, live_app, demo_site, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    english_visitor_claimed(page, console, live_app, demo_site)
    uploads: list[str] = []
    console.on("request", lambda sent: "/attachments" in sent.url and uploads.append(sent.url))

    console.locator('.composer-tabs [data-mode="note"]').click()
    expect(console.locator("#attach")).to_be_hidden()
    console.locator("#composer-text").fill("Screenshot of the customer's broken order page")
    # The picker's input is still in the page (opened before the switch, or by a script).
    console.locator("#attach-file").set_input_files(
        files=[{"name": "internal.png", "mimeType": "image/png", "buffer": files.png(8, 8)}]
    )
    # The note goes out after the file was chosen: once it is back, any upload had started.
    console.locator("#send").click()
    expect(console.locator("#notes")).to_contain_text("Screenshot of the customer's broken")

    assert uploads == []
    assert not Attachment.objects.exists()
    expect(widget(page, ".msg.agent")).to_have_count(0)

    # Back in reply mode the paperclip is offered again.
    console.locator('.composer-tabs [data-mode="reply"]').click()
    expect(console.locator("#attach")).to_be_visible()
