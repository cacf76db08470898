"""Every naughty string as an agent's reply and as an internal note, through the console socket.

Agents' text is stored as typed (no stripping); a blank one (spaces, or only invisible format
and control characters) is refused with ``bad_frame``.
"""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from apps.chat.models import Message
from apps.chat.protocol import text_is_blank
from apps.handoff.models import TicketNote
from tests.handoff.sockets import console_socket, frame_of, frames_with, visitor_socket
from tests.security.blns import naughty_strings

pytestmark = [pytest.mark.django_db(transaction=True)]


async def outcome(ws: WebsocketCommunicator, action: str) -> dict:
    """The result or error of the frame just sent, skipping the events it caused."""
    return await frame_of(
        ws, lambda f: f["type"] == "error" or (f["type"] == "result" and f["action"] == action)
    )


async def test_every_naughty_reply_and_note_is_stored_byte_exact_or_refused(
    english, visitor, agent
):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    await frames_with(widget, "handoff.ack", "conversation.status")
    ticket_id = (await frame_of(console, "ticket"))["ticket"]["id"]
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket_id})
    assert (await outcome(console, "ticket.claim"))["type"] == "result"

    for action, rows in (("message.send", "message_id"), ("note.add", "note_id")):
        # All frames at once: the console answers each in order, a result or an error.
        for text in naughty_strings():
            await console.send_json_to({"type": action, "ticket_id": ticket_id, "text": text})
        sent: dict[int, str] = {}
        for text in naughty_strings():
            reply = await outcome(console, action)
            if text_is_blank(text):
                assert (reply["type"], reply["code"]) == ("error", "bad_frame")
                continue
            assert reply["type"] == "result", reply
            sent[reply[rows]] = text
        assert len(sent) == 508  # 7 of the 515 are blank
        if action == "message.send":
            stored = {
                m.pk: m.text async for m in Message.objects.filter(author_kind="agent").only("text")
            }
        else:
            stored = {n.pk: n.text async for n in TicketNote.objects.only("text")}
        assert stored == sent
    await console.disconnect()
    await widget.disconnect()
