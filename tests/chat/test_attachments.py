"""Attachments: sniffed types, the widget's and the console's uploads, who may fetch a file."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client

from apps.chat.attachments import (
    attachment_url,
    content_type_sniff,
    download_name,
    image_size,
)
from apps.chat.models import Attachment, Conversation, Message
from apps.chat.privacy import conversations_purge, visitor_erase, visitor_export
from apps.chat.services import conversation_open, message_create_from_visitor
from apps.handoff.selectors import tickets_for_agent
from apps.handoff.services import handoff_request
from apps.handoff.services.presence import agent_session_open
from tests.chat import files
from tests.conftest import SITE_ORIGIN, token_for
from tests.handoff.conftest import english, rival_agent, team, teammate
from tests.handoff.test_pending import claimed
from tests.handoff.test_reply_email import ticket
from tests.security.blns import assert_inert, naughty_strings

pytestmark = pytest.mark.django_db

# Fixtures borrowed from the handoff tests.
__all__ = ["claimed", "english", "rival_agent", "team", "teammate", "ticket"]

RANDOM_PATH = re.compile(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}\.(png|jpg|gif|webp|pdf)")


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def no_bot(monkeypatch) -> list[tuple[int, int]]:
    """The bot is not started (a sync test client has no loop to run it on); what it would
    have answered is recorded."""
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(
        "apps.chat.attachment_views.reply_start",
        lambda *, conversation_id, question_id: started.append((conversation_id, question_id)),
    )
    return started


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


def upload(
    client,
    visitor,
    *,
    content: bytes = files.png(),
    name: str | None = "parcel.png",
    client_id: str = "att-00000001",
    caption: str | None = None,
    origin: str | None = SITE_ORIGIN,
    token: str | None = None,
    site_key: str | None = None,
    declared_type: str = "image/png",
):
    data = {
        "token": token_for(visitor) if token is None else token,
        "client_id": client_id,
        "file": SimpleUploadedFile("upload.bin", content, content_type=declared_type),
    }
    if name is not None:
        data["name"] = name
    if caption is not None:
        data["caption"] = caption
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    key = site_key or visitor.site.public_key
    return client.post(f"/api/widget/{key}/attachments", data=data, **headers)


# --- what a file is ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (files.png(), "image/png"),
        (files.jpeg(), "image/jpeg"),
        (files.gif(), "image/gif"),
        (files.webp(), "image/webp"),
        (files.PDF, "application/pdf"),
        (files.SVG, None),
        (b'<?xml version="1.0"?>' + files.SVG, None),
        (files.HTML, None),
        (files.EXE, None),
        (files.ELF, None),
        (b"GIF8", None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_first_bytes(content, expected):
    assert content_type_sniff(content) == expected


@pytest.mark.parametrize(
    ("content", "content_type", "size"),
    [
        (files.png(3, 2), "image/png", (3, 2)),
        (files.jpeg(640, 480), "image/jpeg", (640, 480)),
        (files.gif(5, 7), "image/gif", (5, 7)),
        (files.webp(33, 44), "image/webp", (33, 44)),
        (b"\xff\xd8\xff\xe0", "image/jpeg", None),  # cut before its frame header
    ],
)
def test_an_image_size_is_read_from_its_header(content, content_type, size):
    assert image_size(content_type, content) == size


# --- the widget's upload ----------------------------------------------------------------------


def test_the_widget_session_says_how_large_a_file_may_be(client, site, settings):
    settings.CSBOT_ATTACHMENT_MAX_BYTES = 5000
    response = client.post(
        f"/api/widget/{site.public_key}/session",
        data="{}",
        content_type="application/json",
        HTTP_ORIGIN=SITE_ORIGIN,
    )
    assert response.json()["attachment_max_bytes"] == 5000


def test_a_visitor_png_is_stored_under_a_random_name_and_acknowledged(
    client, visitor, media, no_bot
):
    response = upload(client, visitor, caption="It arrived like this")

    assert response.status_code == 201
    body = response.json()
    message = Message.objects.get(pk=body["id"])
    attachment = message.attachment
    assert (message.author_kind, message.text, message.client_id) == (
        "visitor",
        "It arrived like this",
        "att-00000001",
    )
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "parcel.png",
        "image/png",
        len(files.png()),
    )
    assert RANDOM_PATH.fullmatch(attachment.file.name)
    assert (media / attachment.file.name).read_bytes() == files.png()
    assert body["duplicate"] is False
    assert body["message"]["attachment"] == {
        "id": attachment.pk,
        "name": "parcel.png",
        "size": len(files.png()),
        "content_type": "image/png",
        "width": 3,
        "height": 2,
        "url": body["message"]["attachment"]["url"],
    }
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN
    # The bot holds the conversation: it answers the caption.
    assert no_bot == [(message.conversation_id, message.pk)]


def test_the_same_upload_retried_stores_one_message_and_one_file(client, visitor, media, no_bot):
    first = upload(client, visitor)
    again = upload(client, visitor)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == Attachment.objects.count() == 1
    assert len(stored_files(media)) == 1
    assert len(no_bot) == 1


def test_a_retry_racing_the_first_upload_removes_its_own_file(client, visitor, media, no_bot):
    """The second request passed the duplicate check before the first committed."""
    upload(client, visitor)
    from apps.chat import attachment_views

    real = attachment_views.visitor_message_by_client_id
    attachment_views.visitor_message_by_client_id = lambda **kwargs: None
    try:
        again = upload(client, visitor)
    finally:
        attachment_views.visitor_message_by_client_id = real
    assert again.json()["duplicate"] is True
    assert len(stored_files(media)) == 1


def test_the_type_is_sniffed_not_taken_from_the_name_or_the_declared_type(client, visitor, no_bot):
    response = upload(client, visitor, name="invoice.html", declared_type="text/html")
    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert (attachment.name, attachment.content_type) == ("invoice.html", "image/png")
    assert attachment.file.name.endswith(".png")


@pytest.mark.parametrize("content", [files.SVG, files.HTML, files.EXE, files.ELF, b"hello"])
def test_a_file_that_is_not_an_allowed_type_is_refused_with_415(
    client, visitor, media, content, no_bot
):
    response = upload(client, visitor, content=content, name="photo.png")
    assert response.status_code == 415
    assert response.json()["error"] == {
        "code": "file_type_not_allowed",
        "message": "only PNG, JPEG, GIF and WebP images and PDF files can be attached",
    }
    assert not Message.objects.exists()
    assert stored_files(media) == []


def test_an_empty_file_is_refused_with_400(client, visitor, media, no_bot):
    response = upload(client, visitor, content=b"")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_empty"
    assert stored_files(media) == []


def test_a_form_without_a_file_is_refused_with_400(client, visitor):
    response = client.post(
        f"/api/widget/{visitor.site.public_key}/attachments",
        data={"token": token_for(visitor), "client_id": "att-00000001"},
        HTTP_ORIGIN=SITE_ORIGIN,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_missing"


def test_a_file_over_the_limit_is_refused_with_413_and_not_kept(
    client, visitor, media, settings, no_bot
):
    settings.CSBOT_ATTACHMENT_MAX_BYTES = 2048
    response = upload(client, visitor, content=files.png() + b"\x00" * 4096)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "file_too_large",
        "message": "a file is at most 2048 bytes",
    }
    assert stored_files(media) == []
    assert not Message.objects.exists()


def test_a_body_declared_too_large_is_refused_before_it_is_read(client, visitor, settings):
    settings.CSBOT_ATTACHMENT_MAX_BYTES = 2048

    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    response = client.generic(
        "POST",
        f"/api/widget/{visitor.site.public_key}/attachments",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        HTTP_ORIGIN=SITE_ORIGIN,
        CONTENT_LENGTH=str(200 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_a_truncated_multipart_body_is_refused_with_400(client, visitor, media):
    body = (
        b"--edge\r\n"
        b'Content-Disposition: form-data; name="token"\r\n\r\n'
        + token_for(visitor).encode()
        + b"\r\n--edge\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + files.png()[:20]
    )
    response = client.generic(
        "POST",
        f"/api/widget/{visitor.site.public_key}/attachments",
        data=body,
        content_type="multipart/form-data; boundary=edge",
        HTTP_ORIGIN=SITE_ORIGIN,
    )
    assert response.status_code == 400
    assert stored_files(media) == []
    assert not Message.objects.exists()


def test_a_body_that_is_not_multipart_is_refused_with_400(client, visitor):
    response = client.post(
        f"/api/widget/{visitor.site.public_key}/attachments",
        data=b"{}",
        content_type="application/json",
        HTTP_ORIGIN=SITE_ORIGIN,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_form"


def test_an_origin_the_site_does_not_allow_is_refused_with_403(client, visitor, media):
    response = upload(client, visitor, origin="https://evil.example.org")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert stored_files(media) == []


def test_a_token_of_another_site_is_refused_with_401(client, visitor, other_site):
    from apps.chat.services import visitor_create

    stranger = visitor_create(site=other_site)
    response = upload(client, visitor, token=token_for(stranger))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 600])
def test_a_missing_or_forged_token_is_refused_with_401(client, visitor, token):
    assert upload(client, visitor, token=token).status_code == 401


def test_an_unknown_site_is_404(client, visitor):
    assert upload(client, visitor, site_key="nope").status_code == 404


@pytest.mark.parametrize("client_id", ["short", "has spaces in it", ""])
def test_a_bad_client_id_is_refused_with_400(client, visitor, client_id):
    response = upload(client, visitor, client_id=client_id)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_frame"


def test_a_caption_too_long_is_refused_with_400(client, visitor):
    response = upload(client, visitor, caption="x" * 2001)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "message_too_long"


def test_uploads_count_in_the_visitors_message_rate_limit(client, visitor, settings, no_bot):
    settings.CSBOT_MESSAGES_PER_MINUTE = 2
    statuses = [upload(client, visitor, client_id=f"att-0000000{n}").status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    assert Message.objects.count() == 2


def test_a_site_asking_for_an_email_first_refuses_an_anonymous_upload(client, visitor):
    visitor.site.prechat = "require"
    visitor.site.save(update_fields=["prechat"])
    response = upload(client, visitor)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_required"


def test_nothing_is_half_stored_when_the_row_cannot_be_written(
    client, visitor, media, monkeypatch, no_bot
):
    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(Attachment.objects, "create", broken)
    response = upload(client, visitor)
    assert response.status_code == 503
    assert stored_files(media) == []
    assert not Message.objects.exists()


def test_an_upload_to_a_closed_conversation_opens_the_next_one(client, visitor, no_bot):
    closed = conversation_open(visitor=visitor)
    Conversation.objects.filter(pk=closed.pk).update(status=Conversation.Status.CLOSED)
    response = upload(client, visitor)
    assert response.status_code == 201
    assert response.json()["conversation_id"] != closed.pk


# --- hostile names ----------------------------------------------------------------------------


def test_naughty_file_names_are_kept_byte_exact_and_never_a_path(
    client, visitor, settings, no_bot, admin_client
):
    settings.CSBOT_MESSAGES_PER_MINUTE = 10_000
    upload(client, visitor, name="parcel.png", client_id="baseline-0001")
    conversation = Conversation.objects.get(visitor=visitor)
    admin_page = f"/admin/chat/conversation/{conversation.pk}/change/"
    baseline = admin_client.get(admin_page).content.decode()
    names = [name for name in naughty_strings() if name.strip()]
    for n, name in enumerate(names):
        response = upload(client, visitor, name=name, client_id=f"naughty-{n:04d}")
        assert response.status_code == 201, (name, response.content)
        assert response.json()["message"]["attachment"]["name"] == name
    stored = {
        attachment.name: attachment
        for attachment in Attachment.objects.exclude(message__client_id="baseline-0001")
    }
    assert set(stored) == set(names)
    assert all(RANDOM_PATH.fullmatch(attachment.file.name) for attachment in stored.values())

    # Served with the name as it was (RFC 6266) but for its type's extension, never as a
    # header of its own.
    for name, attachment in list(stored.items())[:80]:
        served = client.get(attachment_url(attachment.pk))
        assert served.status_code == 200
        assert _disposition_name(served["Content-Disposition"]) == download_name(name, "image/png")

    # Shown inert where staff read them.
    page = admin_client.get(admin_page)
    assert page.status_code == 200
    assert_inert(page.content.decode(), baseline=baseline)


def _disposition_name(header: str) -> str:
    assert header.startswith("inline; ")
    value = header.removeprefix("inline; ")
    if value.startswith("filename*=utf-8''"):
        return unquote(value.removeprefix("filename*=utf-8''"))
    assert value.startswith('filename="')
    assert value.endswith('"')
    return re.sub(r"\\(.)", r"\1", value[len('filename="') : -1])


# --- serving ----------------------------------------------------------------------------------


@pytest.fixture
def png_attachment(client, visitor, no_bot) -> Attachment:
    upload(client, visitor)
    return Attachment.objects.get()


def test_the_visitor_fetches_the_file_with_the_signed_url(client, png_attachment):
    response = Client().get(attachment_url(png_attachment.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == files.png()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"] == 'inline; filename="parcel.png"'


def test_a_pdf_is_served_as_a_download(client, visitor, no_bot):
    upload(client, visitor, content=files.PDF, name="invoice 2026.pdf")
    attachment = Attachment.objects.get()
    response = Client().get(attachment_url(attachment.pk))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice 2026.pdf"'
    assert attachment.width is None


def test_a_site_masking_personal_data_stores_and_serves_the_file_name_masked(
    client, visitor, site, no_bot
):
    site.mask_pii = True
    site.save()
    sent = upload(client, visitor, content=files.PDF, name="zhang.san@example.com.pdf")
    assert sent.json()["message"]["attachment"]["name"] == "[email].pdf"
    served = Client().get(attachment_url(Attachment.objects.get().pk))
    assert served["Content-Disposition"] == 'attachment; filename="[email].pdf"'
    # Longer once masked, cut to fit its column (PostgreSQL refuses a longer one).
    upload(client, visitor, name="a@b.cc " * 70 + ".png", client_id="att-00000002")
    longest = Attachment.objects.get(message__client_id="att-00000002").name
    assert (len(longest), longest[-4:]) == (500, ".png")


def _not_found(response) -> bool:
    return response.status_code == 404 and b"parcel" not in response.content


def test_a_tampered_or_borrowed_signature_is_404(client, visitor, other_visitor, png_attachment):
    url = attachment_url(png_attachment.pk)
    assert _not_found(Client().get(url[:-2] + "xx"))
    assert _not_found(Client().get(f"/api/attachments/{png_attachment.pk}"))
    # Another visitor's signed URL, for their own file, does not open this one.
    upload(client, other_visitor, client_id="att-other-001")
    theirs = Attachment.objects.exclude(pk=png_attachment.pk).get()
    signature = attachment_url(theirs.pk).split("?s=")[1]
    assert _not_found(Client().get(f"/api/attachments/{png_attachment.pk}?s={signature}"))
    # A missing attachment looks the same as a forbidden one.
    assert _not_found(Client().get(f"/api/attachments/{png_attachment.pk + 100}?s={signature}"))


def test_an_expired_signature_is_404(png_attachment, monkeypatch):
    url = attachment_url(png_attachment.pk)
    later = time.time() + 25 * 60 * 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert _not_found(Client().get(url))


@pytest.fixture
def ticketed(png_attachment, agent) -> Attachment:
    """The attachment's conversation handed to the Support team."""
    agent_session_open(user=agent, channel_name="test.mei")
    handoff_request(
        conversation_id=png_attachment.message.conversation_id, reason="customer_request"
    )
    return png_attachment


def test_the_queue_previews_a_file_sent_alone_by_its_name(client, visitor, agent, no_bot):
    """As the console shows it live: after a reload the queue does not show the text before."""
    conversation = conversation_open(visitor=visitor)
    message_create_from_visitor(conversation=conversation, client_id="c-00000001", text="Hello")
    agent_session_open(user=agent, channel_name="test.mei")
    handoff_request(conversation_id=conversation.pk, reason="customer_request")
    upload(client, visitor, name="damaged box.png")
    [queued] = tickets_for_agent(user=agent)
    assert queued["last_message"] == "📎 damaged box.png"
    # A caption is what the message says, as for any text.
    upload(client, visitor, client_id="att-00000002", caption="It arrived like this")
    [queued] = tickets_for_agent(user=agent)
    assert queued["last_message"] == "It arrived like this"


def test_an_agent_of_the_team_fetches_it_with_their_session(ticketed, agent):
    browser = Client()
    browser.force_login(agent)
    response = browser.get(f"/api/attachments/{ticketed.pk}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


def test_agents_of_other_teams_and_sites_and_staff_who_are_not_agents_get_404(
    ticketed, rival_agent, other_agent, django_user_model
):
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    for user in (rival_agent, other_agent, clerk):
        browser = Client()
        browser.force_login(user)
        assert _not_found(browser.get(f"/api/attachments/{ticketed.pk}")), user


def test_an_admin_fetches_any_attachment(png_attachment, admin_client):
    assert admin_client.get(f"/api/attachments/{png_attachment.pk}").status_code == 200


# --- the console's upload ---------------------------------------------------------------------


def console_client(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.cookies["csrftoken"] = "k" * 32
    return browser


def console_upload(browser, ticket_id: int, *, csrf: bool = True, content: bytes = files.PDF):
    headers = {"HTTP_X_CSRFTOKEN": "k" * 32} if csrf else {}
    return browser.post(
        f"/api/console/tickets/{ticket_id}/attachments",
        data={
            "file": SimpleUploadedFile("x", content),
            "name": "invoice.pdf",
            "caption": "Here is your invoice",
        },
        **headers,
    )


def test_the_assignee_sends_a_pdf_as_a_reply(claimed, agent, media):
    response = console_upload(console_client(agent), claimed.pk)
    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.author_kind, message.author, message.text) == (
        "agent",
        agent,
        "Here is your invoice",
    )
    assert (message.attachment.name, message.attachment.content_type) == (
        "invoice.pdf",
        "application/pdf",
    )
    assert response.json()["message"]["author_name"] == "Mei"


def test_the_console_upload_needs_the_csrf_token(claimed, agent, media):
    assert console_upload(console_client(agent), claimed.pk, csrf=False).status_code == 403
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_a_teammate_who_does_not_hold_the_ticket_cannot_attach(claimed, teammate, media):
    response = console_upload(console_client(teammate), claimed.pk)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_assignee"
    assert stored_files(media) == []


def test_agents_of_other_teams_and_visitors_cannot_attach(claimed, rival_agent, other_agent, media):
    for user in (rival_agent, other_agent):
        assert console_upload(console_client(user), claimed.pk).status_code == 404
    assert Client().post(f"/api/console/tickets/{claimed.pk}/attachments").status_code == 403
    assert stored_files(media) == []


def test_the_console_refuses_an_svg_too(claimed, agent, media):
    response = console_upload(console_client(agent), claimed.pk, content=files.SVG)
    assert response.status_code == 415
    assert stored_files(media) == []


# --- data protection --------------------------------------------------------------------------


def test_the_export_lists_attachments(visitor, png_attachment):
    exported = visitor_export(visitor=visitor)
    [message] = exported["conversations"][0]["messages"]
    assert message["attachment"]["name"] == "parcel.png"
    assert message["attachment"]["content_type"] == "image/png"


@pytest.mark.django_db(transaction=True)
def test_erasing_a_visitor_removes_their_files(visitor, png_attachment, media):
    assert stored_files(media)
    visitor_erase(visitor=visitor)
    assert stored_files(media) == []
    assert not Attachment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_retention_purge_removes_the_files(site, png_attachment, media):
    import datetime as dt

    from django.utils import timezone

    site.retention_days = 30
    site.save(update_fields=["retention_days"])
    conversations_purge(now=timezone.now() + dt.timedelta(days=31))
    assert stored_files(media) == []
    assert not Attachment.objects.exists()


def test_an_agent_with_an_expired_signature_still_gets_the_file(ticketed, agent, monkeypatch):
    url = attachment_url(ticketed.pk)
    later = time.time() + 25 * 60 * 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    browser = Client()
    browser.force_login(agent)
    assert browser.get(url).status_code == 200
    assert _not_found(Client().get(url))


@pytest.mark.django_db(transaction=True)
def test_the_same_upload_sent_four_times_at_once_stores_one_message_and_one_file(
    visitor, media, no_bot
):
    from tests.threads import at_once

    def post() -> int:
        return upload(Client(), visitor).status_code

    statuses = at_once([post] * 4)
    assert sorted(statuses) == [200, 200, 200, 201]
    assert Message.objects.count() == Attachment.objects.count() == 1
    assert len(stored_files(media)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_file_replied_to_a_left_message_is_named_in_the_reply_email(
    ticket, agent, mailoutbox, settings
):
    import datetime as dt

    from django.utils import timezone

    from apps.chat.attachments import StoredFile
    from apps.handoff.mail import reply_email_send_due
    from apps.handoff.services import ticket_reply

    settings.CSBOT_REPLY_EMAIL_DELAY_SECONDS = 120
    invoice = StoredFile(
        path="attachments/2026/12/x.pdf", name="invoice.pdf", content_type="application/pdf", size=9
    )
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="Here it is.", attachment=invoice)
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="", attachment=invoice)

    assert reply_email_send_due(ticket_id=ticket.pk, now=timezone.now() + dt.timedelta(minutes=3))
    [email] = mailoutbox
    assert email.body.split("\n\n--\n")[0] == "Here it is.\n📎 invoice.pdf\n\n📎 invoice.pdf"
