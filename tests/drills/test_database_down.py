"""Drill: PostgreSQL is unreachable for a moment; the visitor is told, nothing is acknowledged
unstored, and the resend after it is back is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect

from apps.chat.models import Message
from tests import workers
from tests.conftest import token_for
from tests.drills.conftest import SITE_ORIGIN, receive_until, socket_url
from tests.workers import asgi_workers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="cuts the worker's PostgreSQL connections; the embedded run has none",
    ),
]


class CuttableProxy:
    """A TCP forwarder on 127.0.0.1 in front of PostgreSQL. ``cut()`` drops every connection
    and turns new ones away at once, as a database host gone from the network looks to the
    worker's pool; ``restore()`` forwards again. Only the worker's connections pass here: the
    shared server and every other client are untouched."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.cut_off = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(5)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        def drop() -> None:
            self.cut_off = True
            for writer in list(self._writers):
                writer.close()
            self._writers.clear()

        self._loop.call_soon_threadsafe(drop)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "cut_off", False)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._writers.discard(writer)


@contextlib.contextmanager
def database_proxy() -> Iterator[tuple[CuttableProxy, str]]:
    """The proxy, and the test database's URL through it."""
    db = connection.settings_dict
    proxy = CuttableProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    proxy.start()
    try:
        yield (
            proxy,
            workers.test_database_url().replace(f":{db['PORT'] or 5432}/", f":{proxy.port}/"),
        )
    finally:
        proxy.stop()


def send(client_id: str) -> str:
    return json.dumps({"type": "message.send", "client_id": client_id, "text": "Is it stored?"})


def test_while_the_database_is_away_the_visitor_gets_unavailable_and_the_resend_is_stored_once(
    visitor,
):
    token = token_for(visitor)

    async def scenario(proxy: CuttableProxy, worker: Any) -> list[dict]:
        frames: list[dict] = []
        async with connect(socket_url(worker.ws_url, visitor.site), origin=SITE_ORIGIN) as ws:
            await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
            await receive_until(ws, lambda f: f["type"] == "ready", frames)

            proxy.cut()
            await ws.send(send("c-db-down-01"))
            error = await receive_until(ws, lambda f: f["type"] in {"error", "message.ack"}, frames)
            assert (error["type"], error["code"], error["client_id"]) == (
                "error",
                "unavailable",
                "c-db-down-01",
            )
            # The socket is alive through the outage.
            await ws.send(json.dumps({"type": "ping"}))
            await receive_until(ws, lambda f: f["type"] == "pong", frames)

            proxy.restore()
            # The widget resends with the same client id until it is acknowledged.
            async with asyncio.timeout(30):
                while True:
                    await ws.send(send("c-db-down-01"))
                    reply = await receive_until(
                        ws, lambda f: f["type"] in {"error", "message.ack"}, frames
                    )
                    if reply["type"] == "message.ack":
                        break
                    assert reply["code"] == "unavailable"
                    await asyncio.sleep(0.2)  # the widget's backoff, shortened
            await ws.send(send("c-db-down-01"))
            again = await receive_until(ws, lambda f: f["type"] == "message.ack", frames)
            assert again["duplicate"] is True
        return frames

    with (
        database_proxy() as (proxy, url),
        asgi_workers(1, DATABASE_URL=url, CSBOT_MESSAGES_PER_MINUTE="1000") as (worker,),
    ):
        frames = asyncio.run(scenario(proxy, worker))

    stored = Message.objects.filter(client_id="c-db-down-01")
    assert stored.count() == 1
    acks = [f for f in frames if f["type"] == "message.ack"]
    assert [a["id"] for a in acks] == [stored.get().pk] * 2
    # No ack came before the database was back: the first answer was the error.
    first_reply = next(f for f in frames if f["type"] in {"error", "message.ack"})
    assert first_reply["type"] == "error"
