"""Drill: Redis restarts under two workers; the sockets recover and nothing stored is lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from channels.layers import channel_layers
from django.core.cache.backends.redis import RedisCache
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from apps.chat import layerwatch
from apps.chat.models import Message
from apps.chat.services import (
    conversation_open,
    message_create,
    message_create_from_visitor,
    message_finish,
)
from apps.core.channel_layer import ResubscribingPubSubChannelLayer
from apps.core.lib.redis_options import channel_layer_host
from apps.handoff.models import Team, Ticket
from apps.handoff.services import handoff_request
from apps.handoff.services.presence import agent_session_open
from tests.chat.test_channel_layer import Socket, received_until_heard
from tests.conftest import agent_create, token_for
from tests.drills.conftest import SITE_ORIGIN, receive_until, socket_url
from tests.workers import asgi_workers, free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class PrivateRedis:
    """A redis-server of this test's own on a free port, without persistence: killed and
    restarted, it comes back empty, as a Redis that lost its memory does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


async def join(url: str, token: str, last_seq: int, seen: list[dict]) -> Any:
    """Open a socket as the widget does: hello, then resume from the last seq it holds."""
    ws = await connect(url, origin=SITE_ORIGIN)
    await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
    await receive_until(ws, lambda f: f["type"] == "ready", seen)
    await ws.send(json.dumps({"type": "resume", "last_seq": last_seq}))
    await receive_until(ws, lambda f: f["type"] == "resumed", seen)
    return ws


async def closed_by_the_server(ws: Any) -> None:
    """Wait until the server closes the socket: 1012 once the worker's layer is subscribed
    again (frames meanwhile are dropped). A deaf open socket times out."""
    async with asyncio.timeout(15):
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass


def said(text: str):
    return lambda f: f["type"] == "message.new" and f["message"]["text"] == text


def test_after_a_redis_restart_the_sockets_reconnect_and_hear_each_other_again(shop, shopper):
    token = token_for(shopper)

    async def scenario(server: PrivateRedis, first: Any, second: Any) -> tuple[list, list]:
        tab_a: list[dict] = []
        tab_b: list[dict] = []
        url_a, url_b = socket_url(first.ws_url, shop), socket_url(second.ws_url, shop)
        a = await join(url_a, token, 0, tab_a)
        b = await join(url_b, token, 0, tab_b)
        await a.send(json.dumps({"type": "message.send", "client_id": "c-redis-01", "text": "one"}))
        await receive_until(a, lambda f: f["type"] == "message.ack", tab_a)
        await receive_until(b, said("one"), tab_b)

        # Killed and back at once: the sockets' layer connections may survive, not their groups.
        server.kill()
        server.start()
        await asyncio.gather(closed_by_the_server(a), closed_by_the_server(b))

        # As the widget does: reconnect, resume from the last seq held, resend what was not
        # acknowledged (same client id). A socket may be closed once more when its worker's
        # layer subscribes again after it reconnected: then again.
        async with asyncio.timeout(30):
            while True:
                seen = max(f["message"]["seq"] for f in tab_b if f["type"] == "message.new")
                try:
                    a = await join(url_a, token, seen, tab_a)
                    b = await join(url_b, token, seen, tab_b)
                    await a.send(
                        json.dumps(
                            {"type": "message.send", "client_id": "c-redis-02", "text": "two"}
                        )
                    )
                    await receive_until(a, lambda f: f["type"] == "message.ack", tab_a)
                    await receive_until(b, said("two"), tab_b)
                    break
                except ConnectionClosed:
                    await a.close()
                    await b.close()
        await a.close()
        await b.close()
        return tab_a, tab_b

    with private_redis() as server, asgi_workers(2, REDIS_URL=server.url) as workers:
        _, tab_b = asyncio.run(scenario(server, *workers))

    stored = list(Message.objects.filter(author_kind="visitor").order_by("seq"))
    assert [(m.client_id, m.text) for m in stored] == [("c-redis-01", "one"), ("c-redis-02", "two")]
    # Everything stored reached the second tab, each seq announced once per socket life.
    all_seqs = set(Message.objects.values_list("seq", flat=True))
    heard = [f["message"]["seq"] for f in tab_b if f["type"] == "message.new"]
    assert set(heard) <= all_seqs
    visitor_seqs = {m.seq for m in stored}
    assert visitor_seqs <= set(heard)


def test_after_a_restart_the_layer_publishes_at_once_and_its_sockets_resume():
    """What a worker meets right after a restart: its pools still hold connections to the old
    server. A publish finding one runs on a fresh connection instead of failing; the subscriber
    connection comes back with its subscriptions and closes the sockets so they resume."""
    with private_redis() as server:
        layer = ResubscribingPubSubChannelLayer(
            hosts=[channel_layer_host(server.url)],
            on_resubscribe="apps.chat.layerwatch.layer_resubscribed",
        )
        cache = RedisCache(server.url, {})

        async def scenario() -> list[str]:
            socket = Socket()
            channel = await layer.new_channel()
            await layer.group_add("drill", channel)
            await layer.group_send("drill", {"type": "said", "text": "before"})
            heard = [(await layer.receive(channel))["text"]]
            layerwatch.socket_opened(socket)
            server.kill()
            server.start()
            # Nobody may hear this one (the subscriber may still be away), but it must not raise.
            await layer.group_send("drill", {"type": "said", "text": "meanwhile"})
            await socket.wait_closed()
            after = {"type": "said", "text": "after"}
            received = await received_until_heard(layer, "drill", channel, after)
            heard.extend(message["text"] for message in received)
            await layer.flush()
            return heard

        cache.set("drill", "before")
        heard = asyncio.run(scenario())
        # The restarted server is empty: the key is gone, and reading it does not raise.
        assert cache.get("drill") is None
        cache.set("drill", "after")
        assert cache.get("drill") == "after"
    assert heard[0] == "before"
    assert heard[-1] == "after"


@pytest.fixture
def dead_layer(settings: Any) -> Iterator[None]:
    """The channel layer pointed at a port where no Redis listens."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "apps.core.channel_layer.ResubscribingPubSubChannelLayer",
            "CONFIG": {
                "hosts": [channel_layer_host(f"redis://127.0.0.1:{free_port()}/0")],
                "on_resubscribe": "apps.chat.layerwatch.layer_resubscribed",
            },
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_while_redis_is_down_writes_are_stored_and_their_events_dropped(visitor, dead_layer):
    conversation = conversation_open(visitor=visitor)
    result = message_create_from_visitor(
        conversation=conversation, client_id="c-redis-down", text="Still there?"
    )
    answer = message_create(
        conversation_id=conversation.pk,
        author_kind=Message.AuthorKind.BOT,
        text="",
        state=Message.State.STREAMING,
        owner="bot",
    )
    assert message_finish(message=answer, text="Yes.", state="complete", owner="bot")
    # The console's events (presence, the new ticket) are dropped the same way.
    agent = agent_create("mei", team=Team.objects.create(site=visitor.site, name="Support"))
    agent_session_open(user=agent, channel_name="drill.console.mei")
    outcome = handoff_request(conversation_id=conversation.pk, reason="customer_request")
    assert outcome.state in {"waiting", "assigned"}
    assert result.created
    stored = Message.objects.filter(conversation=conversation).order_by("seq")
    assert [(m.author_kind, m.text, m.state) for m in stored][:2] == [
        ("visitor", "Still there?", "complete"),
        ("bot", "Yes.", "complete"),
    ]
    assert Ticket.objects.filter(conversation=conversation).count() == 1
