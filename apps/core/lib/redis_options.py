"""How the channel layer connects to Redis.

Its pool keeps connections for the life of a worker. When Redis restarts, every one of them is
dead, and redis-py's asyncio pool neither checks a connection it hands out nor retries: the first
event published on each stale connection failed ("Connection closed by server"), and its
conversation never heard it. One retry on a fresh connection is enough (the subscriber connection
reconnects the same way); a Redis that is really down still fails at once (connection refused).
(The cache's synchronous pool already replaces a connection the server closed when handing it
out.)
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff


def channel_layer_host(url: str) -> dict[str, Any]:
    """One ``hosts`` entry for ``apps.core.channel_layer.ResubscribingPubSubChannelLayer`` (its
    keys go to redis-py's asyncio ``ConnectionPool``)."""
    return {"address": url, "retry": AsyncRetry(NoBackoff(), 1)}
