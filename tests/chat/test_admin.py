from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.chat.services import conversation_open, message_create_from_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser(
        "root", "root@example.com", "pw-for-tests-only"
    )
    client.force_login(user)
    return client


def test_admin_shows_a_conversation_with_its_messages(admin_client, visitor):
    conversation = conversation_open(visitor=visitor)
    message_create_from_visitor(
        conversation=conversation, client_id="c-00000001", text="退货要几天？"
    )
    page = admin_client.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    assert page.status_code == 200
    assert "退货要几天？" in page.content.decode()
    listing = admin_client.get("/admin/chat/conversation/", {"q": "退货"})
    assert listing.status_code == 200
    assert f">{conversation.pk}<" in listing.content.decode()
