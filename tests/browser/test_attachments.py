"""Attachments in Chromium: a visitor's PNG from a shop's page reaches the agent's console."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from apps.chat.attachments import StoredFile, attachment_file_store
from apps.chat.models import Attachment, Conversation
from apps.chat.services import message_create_from_visitor
from apps.handoff.models import Ticket
from tests.browser.conftest import wait_until
from tests.browser.test_console import console as console  # the fixture: Mei's console
from tests.browser.test_naughty_strings import CANARY
from tests.browser.test_widget import embed, send, widget
from tests.chat import files
from tests.security.blns import script_bearing

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
    # Enough of a conversation that the log scrolls.
    for n in range(6):
        send(page, f"Hello, this is message {n} about my order")
    expect(widget(page, ".msg.visitor:not(.pending) .bubble")).to_have_count(6)

    page.get_by_role("textbox", name="Message", exact=True).fill("It arrived broken")
    widget(page, "input[type=file]").set_input_files(
        files=[{"name": NAME, "mimeType": "image/png", "buffer": files.png(400, 300)}]
    )

    # The widget shows the stored file, fetched with its signed URL, the box's text as caption.
    thumbnail = widget(page, ".msg.visitor img")
    expect(widget(page, ".msg.visitor .bubble").last).to_contain_text("It arrived broken")
    expect(thumbnail).to_have_attribute("alt", NAME)
    page.wait_for_function(
        "() => { const img = document.querySelector('csbot-widget').shadowRoot"
        ".querySelector('.msg.visitor img'); return img && img.src.includes('/api/attachments/')"
        " && img.complete && img.naturalWidth === 400 }"
    )
    attachment = Attachment.objects.get()
    assert attachment.name == NAME
    assert (attachment.width, attachment.height) == (400, 300)
    # The image grew its message once loaded: the log comes back to its end (the load event
    # may run a moment after the image is complete, and the bot's answer may follow).
    page.wait_for_function(
        "() => { const log = document.querySelector('csbot-widget').shadowRoot"
        ".querySelector('.log'); return log.scrollHeight - log.scrollTop - log.clientHeight < 60 }",
        timeout=5000,
    )

    # The agent's transcript shows it as a thumbnail that opens the full image.
    shown = console.locator("#transcript .msg.visitor img")
    expect(shown).to_have_attribute("alt", NAME)
    expect(console.locator("#transcript .msg.visitor").last).to_contain_text("It arrived broken")
    console.wait_for_function(
        "() => { const img = document.querySelector('#transcript .msg.visitor img');"
        " return img && img.complete && img.naturalWidth === 400 }"
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


def test_a_refused_or_failed_upload_says_why_in_chinese_and_a_retry_stores_it_once(
    new_context, live_app, demo_site, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CSBOT_ATTACHMENT_MAX_BYTES = 64 * 1024
    page = new_context(locale="zh-CN").new_page()
    uploads: list[str] = []
    page.on("request", lambda sent: "/attachments" in sent.url and uploads.append(sent.url))
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="打开在线客服").click()
    picker = widget(page, "input[type=file]")

    # Over the server's limit (the session says it): refused before a byte is sent.
    picker.set_input_files(
        files=[{"name": "big.png", "mimeType": "image/png", "buffer": files.png() + bytes(70_000)}]
    )
    too_large = widget(page, ".msg.visitor.failed").last
    expect(too_large.locator(".meta")).to_contain_text("文件太大，无法发送。")
    assert uploads == []
    # Sending it again would be refused again: no Retry for a refusal of the file itself.
    expect(too_large.get_by_role("button", name="重试")).to_have_count(0)

    # An SVG named like a PNG: refused by its bytes, in the widget's language.
    picker.set_input_files(files=[{"name": "x.png", "mimeType": "image/png", "buffer": files.SVG}])
    refused = widget(page, ".msg.visitor.failed").last
    expect(refused.locator(".meta")).to_contain_text(
        "未发送：只能发送图片（PNG、JPEG、GIF、WebP）和 PDF 文件。"
    )
    expect(refused.get_by_role("button", name="重试")).to_have_count(0)

    # The network drops the next one: it fails, and its Retry sends it.
    page.route("**/attachments", lambda route: route.abort())
    picker.set_input_files(
        files=[{"name": "box.png", "mimeType": "image/png", "buffer": files.png(8, 8)}]
    )
    failed = widget(page, ".msg.visitor.failed").last
    expect(failed.locator(".meta")).to_contain_text("文件发送失败。")
    page.unroute("**/attachments")
    failed.get_by_role("button", name="重试").click()
    expect(widget(page, ".msg.visitor img[alt='box.png']")).to_be_visible()
    expect(widget(page, ".msg.visitor.failed")).to_have_count(2)  # the big file's, the SVG's

    # A screenshot pasted into the message box is sent as a file too.
    page.evaluate(
        """bytes => { const box = document.querySelector('csbot-widget').shadowRoot
            .querySelector('textarea');
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], 'screenshot.png', {type: 'image/png'}));
        box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true})); }""",
        list(files.png(5, 5)),
    )
    expect(widget(page, ".msg.visitor img[alt='screenshot.png']")).to_have_attribute(
        "src", re.compile(r"/api/attachments/\d+\?s=")
    )
    assert sorted(Attachment.objects.values_list("name", flat=True)) == [
        "box.png",
        "screenshot.png",
    ]

    # The bot cannot open a file sent alone, and says so in the visitor's language.
    expect(widget(page, ".msg.bot .bubble").last).to_contain_text("抱歉，我无法查看附件。")


def english_visitor_claimed(page, console, live_app, demo_site) -> None:
    """A visitor of the English demo shop asks for a person, and Mei claims the ticket."""
    demo_site.default_language = "en"
    demo_site.save(update_fields=["default_language"])
    expect(console.locator("#agent-list")).to_contain_text("online")
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Talk to a human").click()
    console.locator("#ticket-list li").first.click()
    console.locator("#claim").click()
    expect(console.locator("#claim-banner")).to_be_hidden()


def test_the_assignee_sends_a_pdf_from_the_console_and_the_visitor_gets_a_file_chip(
    page, console, live_app, demo_site, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    english_visitor_claimed(page, console, live_app, demo_site)

    console.locator("#composer-text").fill("Your invoice")
    console.locator("#attach-file").set_input_files(
        files=[{"name": "invoice 12.pdf", "mimeType": "application/pdf", "buffer": files.PDF}]
    )
    chip = widget(page, ".msg.agent a.file")
    expect(chip).to_have_text(f"invoice 12.pdf · {len(files.PDF)} B")
    expect(widget(page, ".msg.agent .bubble").last).to_contain_text("Your invoice")
    expect(console.locator("#transcript .msg.agent a.attachment")).to_contain_text("invoice 12.pdf")
    expect(console.locator("#composer-text")).to_have_value("")
    # A download, served with its name.
    with page.expect_download() as download:
        chip.click()
    assert download.value.suggested_filename == "invoice 12.pdf"

    # The console says why a file is refused, in the agent's language.
    console.locator("#attach-file").set_input_files(
        files=[{"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": files.SVG}]
    )
    expect(console.locator(".toast.error")).to_contain_text(
        "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent."
    )


def names_fill(*, conversation_id: int, names: list[str], stored: StoredFile) -> None:
    """A visitor's attachment named with each of ``names``: images and PDFs in turn, all
    backed by one stored file."""
    conversation = Conversation.objects.select_related("site").get(pk=conversation_id)
    for n, name in enumerate(names):
        kind = "image/png" if n % 2 == 0 else "application/pdf"
        message_create_from_visitor(
            conversation=conversation,
            client_id=f"naughty-{n:04d}",
            text="",
            attachment=replace(stored, name=name, content_type=kind),
        )


# Elements that could run script, handler attributes and script URLs (images and SVG are
# expected: the thumbnails, checked by their alt text, and the widget's file icons, counted).
ACTIVE_BESIDE_IMAGES = """([root, scope]) => ({
  elements: root.querySelectorAll(['script', 'iframe', 'object', 'embed', 'math',
      'style', 'form', 'input'].map(tag => scope + ' ' + tag).join(', ')).length,
  icons: root.querySelectorAll(scope + ' svg').length,
  handlers: [...root.querySelectorAll('*')].flatMap(el => [...el.attributes])
      .filter(a => a.name.startsWith('on')).length,
  urls: [...root.querySelectorAll(scope + ' [href], ' + scope + ' [src]')]
      .map(el => el.getAttribute('href') || el.getAttribute('src'))
      .filter(url => !/^https?:/i.test(url)).length,
  alts: [...root.querySelectorAll(scope + ' img')].map(img => img.alt),
})"""


def test_script_bearing_file_names_stay_text_in_the_widget_and_the_console(
    page, console, live_app, demo_site, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    names = script_bearing()
    images = names[::2]
    for where in (page, console):
        where.add_init_script(CANARY)
    console.reload()
    expect(console.locator("#agent-list")).to_contain_text("online")
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Talk to a human").click()
    wait_until(lambda: Ticket.objects.exists())
    conversation = Conversation.objects.get()
    stored = attachment_file_store(upload=SimpleUploadedFile("x", files.png(4, 4)), name="x")
    live_app.run(
        sync_to_async(names_fill)(conversation_id=conversation.pk, names=names, stored=stored),
        timeout=120,
    )

    # Read back through resume: a burst of 240 live events may overflow a socket's queue.
    page.reload()
    expect(widget(page, ".msg.visitor a.file")).to_have_count(len(names), timeout=60_000)
    root = page.locator("csbot-widget").evaluate_handle("el => el.shadowRoot")
    found = page.evaluate(ACTIVE_BESIDE_IMAGES, [root, ".bubble"])
    assert found.pop("alts") == images
    assert found == {"elements": 0, "icons": len(names[1::2]), "handlers": 0, "urls": 0}
    chips = widget(page, ".msg.visitor a.file:not(:has(img))").all_inner_texts()
    assert [chip.rsplit(" · ", 1)[0] for chip in chips] == names[1::2]

    console.reload()
    console.locator("#ticket-list li").first.click()
    transcript = console.locator("#transcript")
    expect(transcript.locator("a.attachment")).to_have_count(len(names), timeout=60_000)
    document = console.evaluate_handle("document")
    found = console.evaluate(ACTIVE_BESIDE_IMAGES, [document, "#transcript .msg"])
    assert found.pop("alts") == images
    assert found == {"elements": 0, "icons": 0, "handlers": 0, "urls": 0}
    for where in (page, console):
        assert where.evaluate("window.__pwned") is None
