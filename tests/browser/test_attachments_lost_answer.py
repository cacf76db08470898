"""A file the server stored stays sent when its upload's HTTP answer is lost afterwards.

The server publishes the stored message on commit, before it writes the HTTP answer, so the
visitor's socket often confirms the file first; a proxy's 502 or a dropped connection after
that must not mark it failed and offer a Retry that sends it again.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.chat.models import Attachment
from tests.browser.test_widget import widget
from tests.chat import files

pytestmark = [pytest.mark.browser]

# Counts the page's XMLHttpRequests that ended: loadend runs after the widget's onload/onerror.
UPLOADS_ENDED = """(() => { window.__uploadsEnded = 0; const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  this.addEventListener('loadend', () => window.__uploadsEnded++);
  return send.call(this, body); }; })()"""


@pytest.mark.parametrize("answer", ["bad_gateway", "connection_lost"])
def test_a_stored_file_whose_answer_is_lost_stays_sent_without_a_retry(
    page, live_app, demo_site, settings, tmp_path, answer
):
    settings.MEDIA_ROOT = str(tmp_path)
    demo_site.default_language = "en"
    demo_site.save(update_fields=["default_language"])
    page.add_init_script(UPLOADS_ENDED)
    answered = []

    def through_a_proxy(route):
        # The real request reaches the server; the browser gets its answer only after the
        # socket confirmed the file (the stored file's signed URL, not the local one).
        route.fetch()
        page.wait_for_function(
            "() => { const img = document.querySelector('csbot-widget').shadowRoot"
            ".querySelector(\".msg.visitor img[alt='receipt.png']\");"
            " return img && img.src.includes('/api/attachments/') }"
        )
        if answer == "bad_gateway":
            route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")
        else:
            route.abort()
        answered.append(answer)

    page.route("**/attachments", through_a_proxy)
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    widget(page, "input[type=file]").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": files.png(6, 6)}]
    )
    page.wait_for_function("window.__uploadsEnded === 1")
    assert answered == [answer]

    expect(widget(page, ".msg.visitor img[alt='receipt.png']")).to_be_visible()
    expect(widget(page, ".msg.visitor:is(.failed, .pending)")).to_have_count(0)
    expect(widget(page, ".msg.visitor .retry")).to_have_count(0)
    assert Attachment.objects.count() == 1
