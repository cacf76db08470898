"""The console's upload retried after a lost answer is one reply with one file."""

from __future__ import annotations

from playwright.sync_api import expect

from apps.chat import attachment_views
from apps.chat.models import Attachment, Message
from tests.browser.test_attachments import english_visitor_claimed
from tests.browser.test_console import console as console  # the fixture: Mei's console
from tests.browser.test_widget import widget
from tests.chat import files


def test_a_console_file_sent_again_after_a_lost_answer_is_one_reply(
    page, console, live_app, demo_site, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    english_visitor_claimed(page, console, live_app, demo_site)
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(files.PDF)

    ack = attachment_views._console_ack
    answers: list[int] = []

    def lost_once(message, *, created):
        # Stored and committed, then the answer is lost (a 500 here, a dropped connection
        # in life): the page cannot tell whether its file went.
        answers.append(message.pk)
        if len(answers) == 1:
            raise RuntimeError("connection reset")
        return ack(message, created=created)

    monkeypatch.setattr(attachment_views, "_console_ack", lost_once)
    console.locator("#attach-file").set_input_files(invoice)
    expect(console.locator(".toast.error")).to_contain_text("The file could not be sent.")
    with console.expect_response("**/attachments") as again:
        console.locator("#attach-file").set_input_files(invoice)
    assert again.value.status == 200  # the stored reply, not a second one
    expect(console.locator("#transcript .msg.agent a.attachment")).to_have_count(1)
    expect(widget(page, ".msg.agent a.file")).to_have_count(1)
    assert Message.objects.filter(author_kind="agent").count() == 1
    assert Attachment.objects.count() == 1
