"""The production channel layer: Redis pub/sub, closing the worker's sockets when its
subscriptions were interrupted (events published meanwhile are lost)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import redis
from django.conf import settings

from apps.chat import layerwatch
from apps.core.channel_layer import ResubscribingPubSubChannelLayer
from apps.core.lib.redis_options import channel_layer_host
from tests.workers import FALLBACK_REDIS_URL

pytestmark = pytest.mark.redis

REDIS_URL = settings.REDIS_URL or FALLBACK_REDIS_URL


class Socket:
    """Stands for a consumer registered with ``layerwatch``."""

    def __init__(self) -> None:
        self.closed_with: int | bool | None = None
        self._closed = asyncio.Event()

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.closed_with = code
        self._closed.set()

    async def wait_closed(self) -> None:
        async with asyncio.timeout(10):
            await self._closed.wait()


# The connections of this test's layers, named so that cutting them off spares every other
# client of the server (another suite running against the same Redis, say).
CLIENT_NAME = f"csbot-test-{uuid.uuid4().hex[:12]}"


def layer_for_test() -> ResubscribingPubSubChannelLayer:
    return ResubscribingPubSubChannelLayer(
        hosts=[{**channel_layer_host(REDIS_URL), "client_name": CLIENT_NAME}],
        prefix=f"csbot-test-{uuid.uuid4().hex}",
        on_resubscribe="apps.chat.layerwatch.layer_resubscribed",
    )


def subscribers_cut_off() -> int:
    """What Redis does to a subscriber that reads too slowly, or a network failure looks like:
    to this test's subscribers only."""
    server = redis.Redis.from_url(REDIS_URL)
    ours = [c["id"] for c in server.client_list(_type="pubsub") if c["name"] == CLIENT_NAME]
    return sum(server.client_kill_filter(_id=client_id) for client_id in ours)


async def receive(layer: ResubscribingPubSubChannelLayer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


async def received_until_heard(
    layer: ResubscribingPubSubChannelLayer, group: str, channel: str, message: dict
) -> list[dict]:
    """What ``channel`` receives until ``message`` arrives, which is published to ``group`` every
    0.2 s meanwhile: right after a reconnect the resubscription races the next publish on the
    other connection, and Redis delivers a message that wins to nobody. One receive stays
    pending throughout (the pub/sub layer unsubscribes a channel whose receive is cancelled)."""
    received: list[dict] = []
    pending = asyncio.ensure_future(layer.receive(channel))
    async with asyncio.timeout(10):
        while not received or received[-1] != message:
            if pending.done():
                received.append(pending.result())
                pending = asyncio.ensure_future(layer.receive(channel))
                continue
            await layer.group_send(group, message)
            await asyncio.wait([pending], timeout=0.2)
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
    return received


def test_a_group_event_reaches_every_member_once_and_leavers_none():
    layer = layer_for_test()

    async def scenario() -> None:
        staying, leaving = await layer.new_channel(), await layer.new_channel()
        for channel in (staying, leaving):
            await layer.group_add("conversation-1", channel)
        await layer.group_discard("conversation-1", leaving)
        await layer.group_send("conversation-1", {"type": "chat.message", "n": 1})
        await layer.group_send("conversation-1", {"type": "chat.message", "n": 2})
        assert [(await receive(layer, staying))["n"] for _ in range(2)] == [1, 2]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(leaving), timeout=0.3)
        await layer.flush()

    asyncio.run(scenario())


AFTER = {"type": "chat.message", "n": 3}


def test_a_cut_off_subscription_closes_the_workers_sockets_and_then_hears_again():
    layer = layer_for_test()

    async def scenario() -> list[dict]:
        socket = Socket()
        channel = await layer.new_channel()
        await layer.group_add("conversation-1", channel)
        layerwatch.socket_opened(socket)
        assert await asyncio.to_thread(subscribers_cut_off) >= 1
        # Whatever was published while it was away is gone: the socket must resume instead.
        await socket.wait_closed()

        assert socket.closed_with == layerwatch.CLOSE_SERVICE_RESTART
        try:
            return await received_until_heard(layer, "conversation-1", channel, AFTER)
        finally:
            await layer.flush()

    assert asyncio.run(scenario())[-1] == AFTER
