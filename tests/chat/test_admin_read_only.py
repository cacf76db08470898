"""Conversations, messages and visitors are not added by hand in the admin, nor edited where
the services own them; the visitor's export and erase actions still work."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chat.models import Conversation, Message, Visitor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["conversation", "message", "visitor"])
def test_nothing_of_chat_is_added_by_hand(admin_client, model):
    listing = admin_client.get(reverse(f"admin:chat_{model}_changelist")).content.decode()

    assert admin_client.get(reverse(f"admin:chat_{model}_add")).status_code == 403
    assert reverse(f"admin:chat_{model}_add") not in listing


def test_a_conversation_and_its_messages_are_read_only(admin_client, site, visitor):
    conversation = Conversation.objects.create(site=site, visitor=visitor, language="en")
    message = Message.objects.create(
        conversation=conversation, seq=1, author_kind="visitor", text="How long?"
    )

    edit = admin_client.post(
        reverse("admin:chat_conversation_change", args=[conversation.pk]), {"language": "zh-hans"}
    )
    message_edit = admin_client.post(
        reverse("admin:chat_message_change", args=[message.pk]),
        {"conversation": conversation.pk, "seq": 9, "author_kind": "bot", "text": "Edited"},
    )
    page = admin_client.get(reverse("admin:chat_message_change", args=[message.pk]))

    assert edit.status_code == 403
    assert message_edit.status_code == 403
    conversation.refresh_from_db()
    message.refresh_from_db()
    assert (conversation.language, message.seq, message.text) == ("en", 1, "How long?")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


def test_a_visitors_name_and_email_can_be_corrected(admin_client, visitor):
    url = reverse("admin:chat_visitor_change", args=[visitor.pk])
    form = {
        "site": visitor.site_id,
        "name": "Mei Lin",
        "email": "mei@example.com",
        "external_id": "",
        "language": "",
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302
    visitor = Visitor.objects.get(pk=visitor.pk)
    assert (visitor.name, visitor.email) == ("Mei Lin", "mei@example.com")
