"""A file and a text are held to the same rules (``apps.chat.visitor_messages``): refused alike,
counted together, stored in the same conversation."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.bot.services import replies_wait
from apps.chat.models import Conversation, Message
from apps.chat.services import conversation_open
from apps.chat.visitor_messages import visitor_message_send
from apps.sites.models import Site
from tests.chat.test_attachments import media, no_bot, upload
from tests.chat.test_consumer import connected, frames_until

pytestmark = [pytest.mark.django_db(transaction=True)]

__all__ = ["media", "no_bot"]  # fixtures borrowed from the attachment tests


async def text_sent(ws, client_id: str) -> dict:
    """Send a ``message.send``; return its ack or its error."""
    await ws.send_json_to({"type": "message.send", "client_id": client_id, "text": "Refunds?"})
    while True:
        frame = await ws.receive_json_from(timeout=5)
        if frame["type"] in ("message.ack", "error"):
            return frame


async def file_sent(visitor, client_id: str):
    return await sync_to_async(upload)(Client(), visitor, client_id=client_id)


async def test_a_file_before_the_email_is_refused_as_a_text_is(site, visitor, no_bot):
    await Site.objects.filter(pk=site.pk).aupdate(prechat=Site.Prechat.REQUIRE)
    await site.arefresh_from_db()
    ws, _ = await connected(site, visitor)
    refused_text = await text_sent(ws, "c-text-00001")
    refused_file = await file_sent(visitor, "att-file-0001")
    assert refused_text["code"] == "email_required"
    assert refused_file.status_code == 403
    # The same words both ways: identify (on the socket) is how either client gives one.
    assert refused_file.json()["error"] == {
        "code": refused_text["code"],
        "message": refused_text["message"],
    }
    assert not await Message.objects.aexists()
    await ws.disconnect()


async def test_files_and_texts_share_the_visitors_minute(site, visitor, settings, no_bot):
    settings.CSBOT_MESSAGES_PER_MINUTE = 2
    ws, _ = await connected(site, visitor)
    assert (await text_sent(ws, "c-text-00001"))["type"] == "message.ack"
    assert (await file_sent(visitor, "att-file-0001")).status_code == 201
    refused_text = await text_sent(ws, "c-text-00002")
    refused_file = await file_sent(visitor, "att-file-0002")
    assert refused_text["code"] == "rate_limited"
    assert refused_file.status_code == 429
    assert refused_file.json()["error"] == {
        "code": "rate_limited",
        "message": refused_text["message"],
    }
    assert await Message.objects.filter(author_kind="visitor").acount() == 2
    await replies_wait()
    await ws.disconnect()


async def test_a_file_sent_to_a_closed_conversation_moves_the_socket_to_the_next(
    site, visitor, no_bot
):
    ws, ready = await connected(site, visitor)
    closed_id = ready["conversation"]["id"]
    await Conversation.objects.filter(pk=closed_id).aupdate(status=Conversation.Status.CLOSED)
    assert (await file_sent(visitor, "att-file-0001")).status_code == 201
    # The socket follows the visitor into the conversation the file opened (chat.continued).
    moved = (await frames_until(ws, "conversation.new"))[-1]["conversation"]
    assert moved["id"] != closed_id
    stored = await Message.objects.aget(client_id="att-file-0001")
    assert stored.conversation_id == moved["id"]
    ack = await text_sent(ws, "c-text-00001")
    assert (ack["type"], ack["duplicate"]) == ("message.ack", False)
    assert (await Message.objects.aget(pk=ack["id"])).conversation_id == moved["id"]
    await replies_wait()
    await ws.disconnect()


def test_a_message_without_a_socket_goes_to_the_latest_conversation_or_the_next(visitor):
    latest = conversation_open(visitor=visitor)
    sent = visitor_message_send(
        visitor=visitor, conversation_id=None, client_id="c-first-0001", text="Hello"
    )
    assert (sent.stored.message.conversation_id, sent.opened) == (latest.pk, None)
    Conversation.objects.filter(pk=latest.pk).update(status=Conversation.Status.CLOSED)
    again = visitor_message_send(
        visitor=visitor, conversation_id=None, client_id="c-first-0001", text="Hello"
    )
    # A resend after the close is still the stored message, and opens nothing.
    assert (again.stored.created, again.stored.message.pk) == (False, sent.stored.message.pk)
    following = visitor_message_send(
        visitor=visitor, conversation_id=None, client_id="c-second-001", text="And"
    )
    assert following.opened is not None
    assert following.opened.pk != latest.pk
    assert following.stored.message.conversation_id == following.opened.pk
