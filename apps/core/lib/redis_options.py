"""How the channel layer connects to Redis.

Its pool keeps connections for the life of a worker. When Redis restarts, every one of them is
dead, and redis-py's asyncio pool neither checks a connection it hands out nor retries: the first
command on each stale connection failed ("Connection closed by server") — a socket's
``group_add`` as it reconnected, an event its conversation never heard. One retry on a fresh
connection is enough; a Redis that is really down still fails at once (connection refused).
(The cache's synchronous pool already replaces a connection the server closed when handing it
out.)
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff


def channel_layer_host(url: str, *, max_connections: int) -> dict[str, Any]:
    """One ``hosts`` entry for ``apps.core.channel_layer.WaitingRedisChannelLayer`` (its keys
    go to redis-py's asyncio ``BlockingConnectionPool``)."""
    return {
        "address": url,
        "max_connections": max_connections,
        # Seconds a command waits for a free pooled connection before it fails.
        "timeout": 10,
        # redis-py 8 also reads with a 5 s socket timeout, which kills the layer's blocking
        # BZPOPMIN (5 s) on every idle worker (channels_redis #422). Longer than that, not None:
        # a dead Redis must still surface.
        "socket_timeout": 15,
        "retry": AsyncRetry(NoBackoff(), 1),
    }
