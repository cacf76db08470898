"""A refused console frame names the frame it refuses, so the console can put back its text."""

from __future__ import annotations

import pytest

from apps.chat.models import Message
from tests.handoff.sockets import console_socket, frame_of

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_reply_over_the_limit_is_refused_with_its_ref(agent):
    console, _ = await console_socket(agent)
    await console.send_json_to(
        {"type": "message.send", "ticket_id": 1, "text": "长" * 2001, "ref": "r7"}
    )
    error = await frame_of(console, "error")
    assert (error["code"], error["ref"], error["action"]) == ("too_long", "r7", "message.send")
    # Not JSON, or an unknown type: there is no frame to name.
    await console.send_to(text_data="{")
    assert "ref" not in await frame_of(console, "error")
    await console.send_json_to({"type": "ticket.explode", "ref": "r8"})
    assert (await frame_of(console, "error"))["code"] == "unknown_type"
    assert not await Message.objects.aexists()
    await console.disconnect()


async def test_a_reply_of_only_invisible_characters_is_refused_as_empty(agent):
    console, _ = await console_socket(agent)
    await console.send_json_to(
        {"type": "message.send", "ticket_id": 1, "text": "\u200b\ufeff \u2060", "ref": "r9"}
    )
    error = await frame_of(console, "error")
    assert (error["code"], error["message"], error["ref"]) == ("bad_frame", "'text' is empty", "r9")
    assert not await Message.objects.aexists()
    await console.disconnect()
