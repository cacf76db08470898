"""Every naughty string through every input of the visitor's socket: stored exactly or refused.

Documented normalisations (docs/protocol.md, docs/security.md): a message that is blank is
refused with ``empty_message``; identify and leave-a-message fields are stripped of surrounding
whitespace and capped (name, external id 200 characters); an email must look like one.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from apps.chat import protocol
from apps.chat.models import Conversation, Message, Visitor
from apps.handoff.models import Ticket
from tests.handoff.sockets import visitor_socket
from tests.security.blns import naughty_strings

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_message_limit(settings: Any) -> None:
    # 515 messages from one visitor in a second: the suite is not testing the rate limit here.
    settings.CSBOT_MESSAGES_PER_MINUTE = 100_000


async def replies_by_client_id(
    ws: WebsocketCommunicator, wanted: set[str], echoes: dict[str, str] | None = None
) -> dict[str, dict]:
    """The ack or error each client_id got; ``echoes`` collects the message.new frames read."""
    answers: dict[str, dict] = {}
    while wanted - answers.keys():
        frame = await ws.receive_json_from(timeout=10)
        if frame["type"] in ("message.ack", "leave_message.ack", "error"):
            answers[frame["client_id"]] = frame
        elif frame["type"] == "message.new" and echoes is not None:
            echoes[frame["message"]["client_id"]] = frame["message"]["text"]
    return answers


def client_ids() -> dict[str, str]:
    return {f"blns-{n:04d}": text for n, text in enumerate(naughty_strings())}


async def test_every_naughty_message_is_stored_byte_exact_or_refused_as_empty(site, visitor):
    # An agent holds the conversation: the socket path is the bot's, without 515 bot answers.
    await Conversation.objects.acreate(site=site, visitor=visitor, status="agent")
    ws, _ = await visitor_socket(visitor)
    sent = client_ids()
    for client_id, text in sent.items():
        await ws.send_json_to({"type": "message.send", "client_id": client_id, "text": text})
    echoed: dict[str, str] = {}
    answers = await replies_by_client_id(ws, set(sent), echoed)

    refused = {cid for cid, frame in answers.items() if frame["type"] == "error"}
    assert refused == {cid for cid, text in sent.items() if protocol.text_is_blank(text)}
    assert {answers[cid]["code"] for cid in refused} == {"empty_message"}
    stored = {
        m.client_id: m.text
        async for m in Message.objects.filter(author_kind="visitor").only("client_id", "text")
    }
    assert stored == {cid: text for cid, text in sent.items() if cid not in refused}
    # The echo every socket of the conversation gets carries the text unchanged too.
    while len(echoed) < len(stored):
        frame = await ws.receive_json_from(timeout=10)
        if frame["type"] == "message.new":
            echoed[frame["message"]["client_id"]] = frame["message"]["text"]
    assert echoed == stored
    await ws.disconnect()


async def test_every_naughty_identify_field_is_stored_stripped_or_refused(visitor):
    ws, _ = await visitor_socket(visitor)
    outcomes = {"stored": 0, "refused": 0}
    for text in naughty_strings():
        await ws.send_json_to({"type": "identify", "name": text, "external_id": text})
        reply = await ws.receive_json_from(timeout=5)
        row = await Visitor.objects.aget(pk=visitor.pk)
        if len(text) > 200:
            assert (reply["type"], reply["code"]) == ("error", "bad_frame")
            outcomes["refused"] += 1
            continue
        assert reply == {"type": "identified"}
        assert (row.name, row.external_id) == (text.strip(), text.strip())
        outcomes["stored"] += 1
    assert outcomes == {"stored": 510, "refused": 5}

    accepted = []
    for text in naughty_strings():
        await ws.send_json_to({"type": "identify", "email": text})
        reply = await ws.receive_json_from(timeout=5)
        if reply["type"] == "identified":
            row = await Visitor.objects.aget(pk=visitor.pk)
            assert row.email == text.strip()
            accepted.append(text)
        else:
            assert (reply["type"], reply["code"]) == ("error", "bad_frame")
    # Only blank strings (which clear the email) and the list's one email-shaped string pass.
    assert all(not t.strip() or "@" in t for t in accepted)
    await ws.disconnect()


async def test_every_naughty_left_message_is_stored_byte_exact(site, visitor):
    ws, _ = await visitor_socket(visitor)
    sent = client_ids()
    for client_id, text in sent.items():
        await ws.send_json_to(
            {
                "type": "leave_message",
                "client_id": client_id,
                "text": text,
                "name": text,
                "email": "mei@example.com",
            }
        )
    answers = await replies_by_client_id(ws, set(sent))
    refused = {cid for cid, frame in answers.items() if frame["type"] == "error"}
    assert refused == {
        cid for cid, text in sent.items() if protocol.text_is_blank(text) or len(text) > 200
    }
    stored = {
        m.client_id: m.text
        async for m in Message.objects.filter(author_kind="visitor").only("client_id", "text")
    }
    assert stored == {cid: text for cid, text in sent.items() if cid not in refused}
    ticket = await Ticket.objects.aget()
    # Each left message names the contact anew (a corrected name or address wins).
    latest = [text for cid, text in sent.items() if cid not in refused][-1]
    assert (ticket.contact_name, ticket.contact_email) == (latest.strip(), "mei@example.com")
    await ws.disconnect()


def test_every_naughty_name_in_the_leave_message_form_is_kept_stripped_or_refused():
    # Stored as Ticket.contact_name by the service above (a conversation's ticket keeps the
    # latest name it was given); here every string through the parser that shapes it.
    frame = {"type": "leave_message", "client_id": "blns-0001", "text": "Call me"}
    for text in naughty_strings():
        named = {**frame, "name": text, "email": "mei@example.com"}
        if len(text) > 200:
            with pytest.raises(protocol.FrameError, match="'name' is longer than 200"):
                protocol.frame_parse(named)
            continue
        parsed = protocol.frame_parse(named)
        assert isinstance(parsed, protocol.LeaveMessage)
        assert parsed.name == text.strip()


async def test_a_nul_character_is_refused_with_a_clear_error_not_a_retry(visitor):
    ws, _ = await visitor_socket(visitor)
    frames = [
        {"type": "message.send", "client_id": "nul-00001", "text": "before\x00after"},
        {"type": "leave_message", "client_id": "nul-00002", "text": "a\x00", "email": "a@b.co"},
        {"type": "identify", "name": "Mei\x00"},
    ]
    for frame in frames:
        await ws.send_json_to(frame)
        reply = await ws.receive_json_from(timeout=5)
        assert (reply["type"], reply["code"]) == ("error", "bad_frame"), frame
        assert "NUL" in reply["message"]
    assert not await Message.objects.aexists()
    assert (await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)).name == ""
    await ws.disconnect()
