"""Attachments when a step fails: a stored row keeps its file, errors answer in JSON."""

from __future__ import annotations

import datetime as dt
import errno
import struct
from functools import partial
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from apps.chat import privacy
from apps.chat.attachments import attachment_url, download_name
from apps.chat.models import Attachment, Conversation, Message
from tests.chat import files
from tests.chat.test_attachments import (
    claimed,
    console_client,
    console_upload,
    english,
    media,
    no_bot,
    stored_files,
    team,
    upload,
)
from tests.conftest import SITE_ORIGIN

pytestmark = pytest.mark.django_db

# Fixtures borrowed from the attachment and handoff tests.
__all__ = ["claimed", "english", "media", "no_bot", "team"]


def _served(attachment: Attachment) -> bytes:
    response = Client().get(attachment_url(attachment.pk))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_a_step_after_the_row_failing_keeps_the_file_a_retry_finds(
    client, visitor, media: Path, monkeypatch, no_bot
):
    def broken(**kwargs):
        raise DatabaseError("connection lost")

    # After the message and its attachment are written, as the service goes on.
    monkeypatch.setattr("apps.handoff.services.requests.conversation_language_follow", broken)
    assert upload(client, visitor, caption="where is my parcel").status_code == 503
    attachment = Attachment.objects.get()
    assert [path.name for path in stored_files(media)] == [Path(attachment.file.name).name]
    monkeypatch.undo()
    retry = upload(client, visitor, caption="where is my parcel")
    assert retry.json()["duplicate"] is True
    assert _served(attachment) == files.png()


@pytest.mark.django_db(transaction=True)
def test_a_publish_failing_after_commit_keeps_the_console_file(claimed, agent, media, monkeypatch):
    def broken(message, *, attachment):
        raise RuntimeError("channel layer down")

    monkeypatch.setattr("apps.chat.events.message_created", broken)
    browser = console_client(agent)
    browser.raise_request_exception = False
    console_upload(browser, claimed.pk)
    attachment = Attachment.objects.get(message__author_kind=Message.AuthorKind.AGENT)
    assert len(stored_files(media)) == 1
    assert _served(attachment) == files.PDF


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims another size (its CRC is not checked on upload)."""
    content = files.png()
    return content[:16] + struct.pack(">II", width, height) + content[24:]


@pytest.mark.parametrize(("width", "height"), [(2**32 - 1, 2), (3, 2**31), (0, 2), (65536, 65536)])
def test_an_implausible_declared_size_is_stored_as_unknown(
    client, visitor, media, no_bot, width, height
):
    response = upload(client, visitor, content=_png_claiming(width, height))
    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert (attachment.width, attachment.height) == (None, None)
    assert attachment.content_type == "image/png"


def test_the_largest_plausible_size_is_kept(client, visitor, media, no_bot):
    upload(client, visitor, content=_png_claiming(65535, 1))
    attachment = Attachment.objects.get()
    assert (attachment.width, attachment.height) == (65535, 1)


def test_a_conversation_touched_during_the_purge_is_deleted_whole_or_kept_whole(
    site, visitor, client, media, no_bot, monkeypatch, django_capture_on_commit_callbacks
):
    upload(client, visitor)
    site.retention_days = 30
    site.save(update_fields=["retention_days"])
    listed = privacy._files_discard_on_commit

    def then_a_message_arrives(attachments):
        listed(attachments)
        # What another worker's new message does between the listing and the delete.
        Conversation.objects.update(updated_at=timezone.now() + dt.timedelta(days=31))

    monkeypatch.setattr(privacy, "_files_discard_on_commit", then_a_message_arrives)
    with django_capture_on_commit_callbacks(execute=True):
        privacy.conversations_purge(now=timezone.now() + dt.timedelta(days=31))
    kept = [Path(name).name for name in Attachment.objects.values_list("file", flat=True)]
    assert sorted(kept) == sorted(path.name for path in stored_files(media))


@pytest.fixture
def disk_full(monkeypatch):
    def full(self, name, content):
        # Part of the file written, then no space left.
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path(name)).write_bytes(b"\x89PNG")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full)


def _unavailable(response) -> bool:
    return response.status_code == 503 and response.json()["error"]["code"] == "unavailable"


def test_a_full_disk_answers_the_widget_503_it_can_read(client, visitor, media, disk_full):
    response = upload(client, visitor)
    assert _unavailable(response)
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert stored_files(media) == []
    assert not Message.objects.exists()


def test_a_full_disk_answers_the_console_503(claimed, agent, media, disk_full):
    assert _unavailable(console_upload(console_client(agent), claimed.pk))
    assert stored_files(media) == []


def test_a_lost_database_answers_the_console_503(claimed, agent, media, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(Attachment.objects, "create", broken)
    assert _unavailable(console_upload(console_client(agent), claimed.pk))
    assert stored_files(media) == []


def test_a_console_upload_without_its_csrf_token_is_refused_in_json(claimed, agent, media):
    response = console_upload(console_client(agent), claimed.pk, csrf=False)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("name", "content_type", "saved_as"),
    [
        ("invoice.html", "application/pdf", "invoice.pdf"),
        ("invoice.PDF", "application/pdf", "invoice.PDF"),
        ("invoice", "application/pdf", "invoice.pdf"),
        ("report.pdf.exe", "application/pdf", "report.pdf.pdf"),
        (".htaccess", "application/pdf", ".htaccess.pdf"),
        ("photo.jpeg", "image/jpeg", "photo.jpeg"),
        ("photo.png", "image/jpeg", "photo.jpg"),
        ("收据.svg", "image/png", "收据.png"),
        (
            "../../etc/passwd<img src=x onerror=alert(1)>.png",
            "image/png",
            "passwd<img src=x onerror=alert(1)>.png",
        ),
        ("C:\\Users\\mei\\scan.pdf", "application/pdf", "scan.pdf"),
        ("photos/", "image/png", "attachment.png"),
    ],
)
def test_the_saved_name_ends_in_the_sniffed_types_extension(name, content_type, saved_as):
    assert download_name(name, content_type) == saved_as


def test_a_pdf_named_as_a_page_downloads_as_a_pdf_and_shows_its_name(client, visitor, no_bot):
    polyglot = files.PDF + b"\n<html><script>alert(1)</script></html>"
    response = upload(client, visitor, content=polyglot, name="invoice.html")
    assert response.json()["message"]["attachment"]["name"] == "invoice.html"
    attachment = Attachment.objects.get()
    served = Client().get(attachment_url(attachment.pk))
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


def _console_upload_with_id(browser, ticket_id: int, client_id: str):
    return browser.post(
        f"/api/console/tickets/{ticket_id}/attachments",
        data={
            "file": SimpleUploadedFile("x", files.PDF),
            "name": "invoice.pdf",
            "client_id": client_id,
        },
        HTTP_X_CSRFTOKEN="k" * 32,
    )


def test_a_console_upload_sent_again_with_its_client_id_is_one_reply(claimed, agent, media):
    browser = console_client(agent)
    first = _console_upload_with_id(browser, claimed.pk, "up-00000001")
    again = _console_upload_with_id(browser, claimed.pk, "up-00000001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(author_kind=Message.AuthorKind.AGENT).count() == 1
    assert len(stored_files(media)) == 1
    other = _console_upload_with_id(browser, claimed.pk, "up-00000002")
    assert other.status_code == 201
    assert len(stored_files(media)) == 2


def test_a_console_client_id_is_checked_like_the_widgets(claimed, agent, media):
    response = _console_upload_with_id(console_client(agent), claimed.pk, "bad id!")
    assert response.status_code == 400
    assert stored_files(media) == []


def test_one_address_uploads_at_most_its_hourly_budget(
    client, visitor, other_visitor, media, settings, no_bot
):
    settings.CSBOT_ATTACHMENT_BYTES_PER_IP_HOUR = 2 * len(files.png()) + 10
    assert upload(client, visitor, client_id="budget-0001").status_code == 201
    # Another visitor token from the same address shares the budget.
    assert upload(client, other_visitor, client_id="budget-0002").status_code == 201
    refused = upload(client, visitor, client_id="budget-0003")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "of files an hour from one address" in refused.json()["error"]["message"]
    assert refused["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert len(stored_files(media)) == 2
    # A retry of a stored upload is answered, not counted.
    assert upload(client, visitor, client_id="budget-0001").status_code == 200


def test_counting_an_upload_s_bytes_adds_its_size():
    from apps.core.ratelimit import rate_limit_hit

    hit = partial(rate_limit_hit, scope="test-bytes", key="k", limit=100, window_seconds=3600)
    assert hit(cost=60) is True
    assert hit(cost=40) is True
    assert hit(cost=1) is False
    assert hit(cost=101, key="other") is False
