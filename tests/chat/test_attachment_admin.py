"""Attachment files go with their rows when the admin deletes them; orphans are swept."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.chat.models import Attachment, Conversation, Message, Visitor
from apps.chat.privacy import attachment_files_sweep
from apps.sites.models import Site
from tests.chat.test_attachments import media, no_bot, png_attachment, stored_files

pytestmark = pytest.mark.django_db

__all__ = ["media", "no_bot", "png_attachment"]


def _delete_page(attachment: Attachment, model: str) -> tuple[str, int]:
    message = attachment.message
    pk = {
        "site": message.conversation.site_id,
        "visitor": message.conversation.visitor_id,
        "conversation": message.conversation_id,
        "message": message.pk,
    }[model]
    app = "sites" if model == "site" else "chat"
    return f"/admin/{app}/{model}/{pk}/delete/", pk


@pytest.mark.parametrize("model", ["site", "visitor", "conversation", "message"])
def test_the_admins_delete_removes_the_files_after_commit(
    admin_client, png_attachment, media, model, django_capture_on_commit_callbacks
):
    url, _ = _delete_page(png_attachment, model)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    # Not before the commit: a rollback would leave a row pointing at a missing file.
    assert stored_files(media)
    for callback in callbacks:
        callback()
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("model", "model_class"),
    [("site", Site), ("visitor", Visitor), ("conversation", Conversation), ("message", Message)],
)
def test_the_admins_delete_selected_action_removes_the_files(
    admin_client, png_attachment, media, model, model_class, django_capture_on_commit_callbacks
):
    url, pk = _delete_page(png_attachment, model)
    changelist = url.rsplit("/", 3)[0] + "/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [pk], "post": "yes"}
        )
    assert response.status_code == 302
    assert not model_class.objects.filter(pk=pk).exists()
    assert stored_files(media) == []


def _age(path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_the_sweep_removes_old_files_no_row_holds_and_keeps_the_rest(png_attachment, media):
    held = media / png_attachment.file.name
    orphan = media / "attachments/2026/01/0123456789abcdef0123456789abcdef.png"
    in_flight = media / "attachments/2026/12/fedcba9876543210fedcba9876543210.pdf"
    outside = media / "exports/old.json"
    for path in (orphan, in_flight, outside):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for path in (held, orphan, outside):
        _age(path, 2)
    _age(in_flight, 0.5)

    listed = attachment_files_sweep(now=timezone.now(), dry_run=True)
    assert listed == ["attachments/2026/01/0123456789abcdef0123456789abcdef.png"]
    assert orphan.exists()

    assert attachment_files_sweep(now=timezone.now()) == listed
    assert not orphan.exists()
    assert held.exists()
    assert in_flight.exists()
    assert outside.exists()
    later = timezone.now() + dt.timedelta(hours=1)
    assert attachment_files_sweep(now=later) == [
        "attachments/2026/12/fedcba9876543210fedcba9876543210.pdf"
    ]


def test_the_sweep_command_has_a_dry_run(media, capsys):
    orphan = media / "attachments/2026/01/0123456789abcdef0123456789abcdef.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    _age(orphan, 2)
    call_command("attachments_sweep", "--dry-run")
    assert "1 orphaned file(s) would be removed" in capsys.readouterr().out
    assert orphan.exists()
    call_command("attachments_sweep")
    assert "1 orphaned file(s) removed" in capsys.readouterr().out
    assert not orphan.exists()


def test_the_sweep_without_any_attachment_folder_removes_nothing(media):
    assert attachment_files_sweep(now=timezone.now()) == []


def _conversation_page(browser, attachment: Attachment):
    page = browser.get(f"/admin/chat/conversation/{attachment.message.conversation_id}/change/")
    assert page.status_code == 200
    return page.content.decode()


def test_staff_who_may_only_read_messages_see_the_files_name_and_no_dead_link(
    png_attachment, django_user_model, client
):
    from django.contrib.auth.models import Permission

    reader = django_user_model.objects.create_user("reader", password="x", is_staff=True)
    reader.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="chat", codename__in=["view_conversation", "view_message"]
        )
    )
    client.force_login(reader)
    url = reverse("chat:attachment", args=[png_attachment.pk])
    page = _conversation_page(client, png_attachment)
    assert "parcel.png" in page
    assert f'href="{url}"' not in page
    assert client.get(url).status_code == 404  # the link would have been a dead one


def test_an_admin_sees_the_link_and_it_opens(png_attachment, admin_client):
    url = reverse("chat:attachment", args=[png_attachment.pk])
    assert f'href="{url}"' in _conversation_page(admin_client, png_attachment)
    assert admin_client.get(url).status_code == 200
