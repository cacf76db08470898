from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.chat.attachments import StoredFile, name_masked
from apps.chat.models import Attachment, Conversation, Message, Visitor
from apps.chat.privacy import conversations_purge
from apps.chat.services import (
    conversation_open,
    conversation_start,
    message_create_from_visitor,
    visitor_create,
)
from apps.core.lib.pii import pii_mask
from apps.handoff.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("手机 13800138000 联系我", "手机 [phone] 联系我"),
        ("call +86 138 0013 8000 please", "call [phone] please"),
        ("mail li.lei+shop@example.com.cn now", "mail [email] now"),
        ("身份证 11010519491231002X", "身份证 [id]"),
        ("UK +44 20 7946 0958", "UK [phone]"),
        ("订单号 LM-2041-000123 和 2026 年", "订单号 LM-2041-000123 和 2026 年"),
        ("order 202611210001", "order 202611210001"),
    ],
)
def test_pii_is_masked_but_order_numbers_are_not(text, masked):
    assert pii_mask(text) == masked


def test_visitor_messages_are_stored_masked_only_when_the_site_asks(site, visitor):
    conversation = conversation_open(visitor=visitor)
    message_create_from_visitor(
        conversation=conversation, client_id="c-00000001", text="我的电话 13800138000"
    )
    site.mask_pii = True
    site.save()
    # Read again, as the socket does for every message it receives.
    message_create_from_visitor(
        conversation=Conversation.objects.get(pk=conversation.pk),
        client_id="c-00000002",
        text="我的电话 13800138000",
    )
    assert list(Message.objects.order_by("seq").values_list("text", flat=True)) == [
        "我的电话 13800138000",
        "我的电话 [phone]",
    ]


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("13812345678-id-card.png", "[phone]-id-card.png"),
        ("zhang.san@example.com.pdf", "[email].pdf"),
        ("11010519491231002X.JPEG", "[id].JPEG"),
        ("zhang.san@example.com", "[email]"),
        ("scan.13812345678", "scan.[phone]"),
        ("订单 202611210001.pdf", "订单 202611210001.pdf"),
    ],
)
def test_a_file_name_is_masked_with_its_extension_kept(name, masked):
    assert name_masked(name, max_length=500) == masked


def test_a_masked_file_name_is_cut_to_its_column_before_its_extension():
    # Each 6-character address becomes the 7-character "[email]".
    assert name_masked("a@b.cc " * 70 + ".png", max_length=500) == ("[email] " * 70)[:496] + ".png"


def test_visitor_file_names_are_stored_masked_only_when_the_site_asks(site, visitor):
    def send(client_id: str) -> None:
        stored = StoredFile(
            path=f"attachments/{client_id}.pdf",
            name="zhang.san@example.com.pdf",
            content_type="application/pdf",
            size=9,
        )
        message_create_from_visitor(
            conversation=Conversation.objects.get(visitor=visitor),
            client_id=client_id,
            text="",
            attachment=stored,
        )

    conversation_open(visitor=visitor)
    send("c-00000001")
    site.mask_pii = True
    site.save()
    send("c-00000002")
    assert list(Attachment.objects.order_by("message__seq").values_list("name", flat=True)) == [
        "zhang.san@example.com.pdf",
        "[email].pdf",
    ]


def test_conversations_older_than_the_retention_are_purged(site, other_site, visitor):
    site.retention_days = 30
    site.save()
    old = conversation_start(visitor=visitor)
    recent = conversation_start(visitor=visitor)
    elsewhere = conversation_start(visitor=visitor_create(site=other_site))
    long_ago = timezone.now() - dt.timedelta(days=31)
    Conversation.objects.filter(pk__in=[old.pk, elsewhere.pk]).update(updated_at=long_ago)

    assert conversations_purge(now=timezone.now()) == 1
    assert set(Conversation.objects.values_list("pk", flat=True)) == {recent.pk, elsewhere.pk}


def test_a_quiet_conversation_whose_ticket_is_still_queued_is_kept(site, visitor):
    site.retention_days = 7
    site.save()
    left = conversation_start(visitor=visitor)
    answered = conversation_start(visitor=visitor)
    queued = Ticket.objects.create(
        site=site, conversation=left, visitor=visitor, reason="customer_request", channel="message"
    )
    Ticket.objects.create(
        site=site,
        conversation=answered,
        visitor=visitor,
        reason="customer_request",
        status=Ticket.Status.SOLVED,
    )
    long_ago = timezone.now() - dt.timedelta(days=10)
    Conversation.objects.update(updated_at=long_ago)

    assert conversations_purge(now=timezone.now()) == 1
    assert list(Conversation.objects.values_list("pk", flat=True)) == [left.pk]
    assert Ticket.objects.get().pk == queued.pk


def test_a_retention_of_no_days_is_refused(site):
    site.retention_days = 0
    with pytest.raises(ValidationError) as refused:
        site.full_clean()
    assert "retention_days" in refused.value.error_dict


def test_export_and_erase_one_visitor(site, visitor, other_visitor, capsys):
    conversation = conversation_open(visitor=visitor)
    message_create_from_visitor(
        conversation=conversation, client_id="c-00000001", text="退货地址？"
    )
    conversation_open(visitor=other_visitor)

    call_command("visitor_data", "export", str(visitor.public_id))
    exported = json.loads(capsys.readouterr().out)
    assert exported["visitor"]["id"] == str(visitor.public_id)
    assert [m["text"] for m in exported["conversations"][0]["messages"]] == ["退货地址？"]

    call_command("visitor_data", "erase", str(visitor.public_id))
    assert not Visitor.objects.filter(pk=visitor.pk).exists()
    assert not Message.objects.exists()
    assert Visitor.objects.filter(pk=other_visitor.pk).exists()
    with pytest.raises(CommandError, match="no visitor"):
        call_command("visitor_data", "export", "not-a-uuid")


def test_admin_actions_export_and_erase(client, visitor):
    admin = get_user_model().objects.create_superuser(
        "root", "root@example.com", "pw-for-tests-only"
    )
    client.force_login(admin)
    exported = client.post(
        "/admin/chat/visitor/", {"action": "export_data", "_selected_action": [visitor.pk]}
    )
    assert json.loads(exported.content)[0]["visitor"]["id"] == str(visitor.public_id)
    conversation = conversation_open(visitor=visitor)
    for number, text in enumerate(["Hello", "Where is my order?"]):
        message_create_from_visitor(
            conversation=conversation, client_id=f"c-{number:08d}", text=text
        )
    selected = {"action": "erase_data", "_selected_action": [visitor.pk]}
    # It cannot be undone: first a page saying what goes, and nothing erased yet.
    confirm = client.post("/admin/chat/visitor/", selected)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "This erases 1 visitor for good" in page
    assert "2 messages" in page
    assert Visitor.objects.exists()
    erased = client.post("/admin/chat/visitor/", {**selected, "post": "yes"}, follow=True)
    assert "1 visitor(s) erased." in erased.content.decode()
    assert not Visitor.objects.exists()
