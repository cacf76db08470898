"""Two real ASGI worker processes behind Redis share one conversation."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from apps.chat.services import visitor_create
from apps.sites.models import Site
from tests.conftest import token_for
from tests.workers import asgi_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

ORIGIN = "https://shop.example.com"


async def receive_until(ws, predicate) -> dict:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame


async def say_hello(ws, token: str) -> dict:
    await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
    return await receive_until(ws, lambda f: f["type"] == "ready")


def test_a_message_sent_through_one_worker_reaches_a_socket_on_the_other():
    site = Site.objects.create(name="Shop", allowed_origins=ORIGIN)
    visitor = visitor_create(site=site)
    token = token_for(visitor)

    async def scenario(first_url: str, second_url: str) -> tuple[dict, dict, dict]:
        path = f"/ws/chat/?site={site.public_key}"
        async with (
            connect(first_url + path, origin=ORIGIN) as tab_a,
            connect(second_url + path, origin=ORIGIN) as tab_b,
        ):
            ready_a = await say_hello(tab_a, token)
            ready_b = await say_hello(tab_b, token)
            assert ready_a["conversation"]["id"] == ready_b["conversation"]["id"]
            await tab_a.send(
                json.dumps(
                    {"type": "message.send", "client_id": "c-two-workers", "text": "你好，两个进程"}
                )
            )
            ack = await receive_until(tab_a, lambda f: f["type"] == "message.ack")
            seen_on_b = await receive_until(
                tab_b, lambda f: f["type"] == "message.new" and f["message"]["author"] == "visitor"
            )
            # The bot answered in the first worker; the second worker's socket hears it too.
            bot_on_b = await receive_until(
                tab_b,
                lambda f: (
                    f["type"] in {"message.new", "message.done"} and f["message"]["author"] == "bot"
                ),
            )
            return ack, seen_on_b, bot_on_b

    with asgi_workers(2) as (first, second):
        ack, seen_on_b, bot_on_b = asyncio.run(scenario(first.ws_url, second.ws_url))
    assert seen_on_b["message"]["id"] == ack["id"]
    assert seen_on_b["message"]["text"] == "你好，两个进程"
    assert bot_on_b["message"]["author"] == "bot"
