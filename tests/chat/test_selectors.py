"""Reads of the chat app: what a resuming visitor and the console are given."""

from __future__ import annotations

import pytest

from apps.chat.models import Message
from apps.chat.selectors import messages_after
from apps.chat.services import conversation_open

pytestmark = pytest.mark.django_db


def test_messages_after_a_seq_come_oldest_first(visitor):
    conversation = conversation_open(visitor=visitor)
    Message.objects.bulk_create(
        Message(conversation=conversation, seq=seq, author_kind="visitor", text=f"m{seq}")
        for seq in range(1, 6)
    )

    assert [m["seq"] for m in messages_after(conversation_id=conversation.pk, after_seq=2)] == [
        3,
        4,
        5,
    ]


def test_past_the_limit_a_long_conversation_replays_its_newest_messages(visitor):
    conversation = conversation_open(visitor=visitor)
    Message.objects.bulk_create(
        Message(conversation=conversation, seq=seq, author_kind="visitor", text=f"m{seq}")
        for seq in range(1, 13)
    )

    replayed = messages_after(conversation_id=conversation.pk, after_seq=0, limit=5)

    assert [m["seq"] for m in replayed] == [8, 9, 10, 11, 12]
