"""Pasting into the widget's message box: text copied with a picture of itself stays text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_widget import widget
from tests.chat import files

pytestmark = [pytest.mark.browser]

# A paste as Chrome hands it to the page: a picture as a file, and for cells copied from Excel
# or Word their text beside it (a screenshot has none). A script's paste event has no default
# action, so the page does what the browser would do with one the widget left alone: insert
# its text.
PASTE = """([bytes, text]) => {
  const box = document.querySelector('csbot-widget').shadowRoot.querySelector('textarea');
  const data = new DataTransfer();
  if (text) data.setData('text/plain', text);
  data.items.add(new File([new Uint8Array(bytes)], 'image.png', {type: 'image/png'}));
  const paste = new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  const kept = box.dispatchEvent(paste);
  if (kept) document.execCommand('insertText', false, data.getData('text/plain'));
  return paste.defaultPrevented;
}"""


def test_cells_pasted_from_office_are_typed_as_text_not_sent_as_a_picture(
    page, live_app, demo_site, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    demo_site.default_language = "en"
    demo_site.save(update_fields=["default_language"])
    uploads: list[int] = []
    page.on(
        "request",
        lambda sent: sent.method == "POST" and "/attachments" in sent.url and uploads.append(1),
    )
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="Message", exact=True)

    # A screenshot, the picture alone, is sent as a file.
    assert page.evaluate(PASTE, [list(files.png(5, 5)), None]) is True
    expect(widget(page, ".msg.visitor img[alt='image.png']")).to_have_attribute(
        "src", re.compile(r"/api/attachments/\d+\?s=")
    )
    assert len(uploads) == 1

    # Cells: their text goes into the box. A file would have shown its message at once.
    box.fill("Here: ")
    cells = "Order 1042\tBroken\t2 items"
    assert page.evaluate(PASTE, [list(files.png(6, 6)), cells]) is False
    expect(box).to_have_value(f"Here: {cells}")
    assert widget(page, ".msg.visitor").count() == 1
    assert len(uploads) == 1
