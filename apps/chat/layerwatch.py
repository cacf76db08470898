"""Notice that the channel layer's Redis restarted, and make this worker's sockets reconnect.

A Redis that restarts without persistence forgets every group: a socket that survived the
restart stays open but no longer hears its conversation (or its agent's queue) from any worker.
Closing it with 1012 (service restart) makes the client reconnect, say ``hello`` and ``resume``,
which rejoins the groups and replays whatever was stored meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012


class Closable(Protocol):
    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


# The sockets open in this process; a consumer leaves when it is garbage.
_sockets: weakref.WeakSet[Closable] = weakref.WeakSet()


def socket_opened(consumer: Closable) -> None:
    """Register an accepted socket to be closed if the channel layer's Redis restarts."""
    _sockets.add(consumer)


async def sockets_close_all() -> int:
    """Close every registered socket with 1012; return how many."""
    sockets = list(_sockets)
    _sockets.clear()
    for consumer in sockets:
        try:
            await consumer.close(code=CLOSE_SERVICE_RESTART, reason="reconnect: server restarted")
        except Exception:
            # Usually a socket that was closing anyway.
            logger.debug("closing a socket after a Redis restart failed", exc_info=True)
    return len(sockets)


async def redis_watch_forever(url: str, *, every: float = 1.0) -> None:
    """Poll the Redis server's run id; when it changes, close this worker's sockets."""
    client = aioredis.Redis.from_url(url)
    known = ""
    try:
        while True:
            try:
                run_id = (await client.info("server"))["run_id"]
            except RedisError:
                # Down: keep the last id; sockets whose layer receive fails are closed anyway.
                run_id = ""
            if run_id and known and run_id != known:
                closed = await sockets_close_all()
                logger.warning("Redis restarted: closed %d sockets so they reconnect", closed)
            known = run_id or known
            await asyncio.sleep(every)
    finally:
        await client.aclose()
