"""A visitor who leaves while their file is stored still gets the bot's answer to it."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from apps.bot.services import replies_wait
from apps.chat.models import Message
from apps.handoff.services import visitor_message_receive
from csbot.asgi import application
from tests.chat import files
from tests.conftest import SITE_ORIGIN, token_for
from tests.handoff.conftest import english

__all__ = ["english"]  # a fixture borrowed from the handoff tests

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


async def _bot_lines(within: float) -> list[str]:
    """The bot's messages, once there are some or ``within`` seconds have passed."""
    for _ in range(int(within / 0.05)):
        lines = await sync_to_async(
            lambda: list(Message.objects.filter(author_kind="bot").values_list("text", flat=True))
        )()
        if lines:
            return lines
        await replies_wait()
        await asyncio.sleep(0.05)
    return []


async def test_a_client_leaving_while_the_file_is_stored_still_gets_the_answer(
    english, visitor, monkeypatch
):
    stored, gone = threading.Event(), threading.Event()

    def store_then_linger(**kwargs):
        received = visitor_message_receive(**kwargs)
        stored.set()
        gone.wait(5)  # the view is cancelled meanwhile
        return received

    monkeypatch.setattr("apps.chat.visitor_messages.visitor_message_receive", store_then_linger)
    body = encode_multipart(
        BOUNDARY,
        {
            "token": token_for(visitor),
            "client_id": "att-00000001",
            "file": SimpleUploadedFile("x.png", files.png()),
        },
    )
    sent_body = False

    async def receive() -> dict:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.to_thread(stored.wait, 5)
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    path = f"/api/widget/{visitor.site.public_key}/attachments"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"origin", SITE_ORIGIN.encode()),
            (b"content-type", MULTIPART_CONTENT.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await application(scope, receive, send)
    gone.set()
    assert sent == []  # nobody was left to answer
    assert await _bot_lines(within=5) == [
        "Sorry, I can't open attachments. Could you describe it in words?"
    ]
