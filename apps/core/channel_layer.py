"""channels_redis's layer with a connection pool that waits for a free connection.

redis-py 8's asyncio ``ConnectionPool`` raises ``MaxConnectionsError`` the moment all its
connections are out. Every socket joining or leaving a group takes one briefly, so when a
worker's sockets all close at once (a network blip, a deploy, 10,000 in ``bench/load.py``)
hundreds of ``group_discard`` calls failed and those sockets stayed in their groups until the
groups expired. ``BlockingConnectionPool`` queues them instead; channels_redis takes no pool
class through its settings, hence this subclass.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from channels_redis.core import RedisChannelLayer


class WaitingRedisChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> aioredis.BlockingConnectionPool:
        host = dict(self.hosts[index])
        return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)
