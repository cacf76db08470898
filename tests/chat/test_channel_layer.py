"""The production channel layer under a burst larger than its connection pool."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings

from apps.core.channel_layer import WaitingRedisChannelLayer
from apps.core.lib.redis_options import channel_layer_host
from tests.workers import FALLBACK_REDIS_URL

pytestmark = pytest.mark.redis


def test_a_burst_of_leaving_sockets_waits_for_pooled_connections_instead_of_failing():
    # As when a worker's sockets all close at once: far more group_discard calls than the pool
    # has connections (redis-py's own pool raised MaxConnectionsError past its size).
    layer = WaitingRedisChannelLayer(
        hosts=[channel_layer_host(settings.REDIS_URL or FALLBACK_REDIS_URL, max_connections=3)],
        prefix=f"csbot-test-{uuid.uuid4().hex}",
    )

    async def burst() -> None:
        channels = [await layer.new_channel() for _ in range(200)]
        await asyncio.gather(*(layer.group_add("leaving", channel) for channel in channels))
        await asyncio.gather(*(layer.group_discard("leaving", channel) for channel in channels))
        # Every one left: a message to the group reaches none of them.
        await layer.group_send("leaving", {"type": "after"})
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(layer.receive(channels[-1]), timeout=0.5)
        finally:
            await layer.flush()

    asyncio.run(burst())
