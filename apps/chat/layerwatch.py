"""Close this worker's sockets when the channel layer may have lost their events.

The production layer (``apps/core/channel_layer.py``) is Redis pub/sub: while a worker's
subscriber connection is away (Redis restarted, the network failed), events published for its
sockets are lost, and a Redis that restarts forgets nothing it would need to replay them. When
the connection comes back, the layer calls ``layer_resubscribed``: every socket of the worker is
closed with 1012 (service restart), and the client reconnects, says ``hello`` and ``resume``,
which replays whatever was stored meanwhile.
"""

from __future__ import annotations

import logging
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012


class Closable(Protocol):
    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


# The sockets open in this process; a consumer leaves when it is garbage.
_sockets: weakref.WeakSet[Closable] = weakref.WeakSet()


def socket_opened(consumer: Closable) -> None:
    """Register an accepted socket to be closed if the channel layer loses events."""
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


async def layer_resubscribed() -> None:
    """The channel layer's ``on_resubscribe``: its events may be lost, so the sockets resume."""
    closed = await sockets_close_all()
    logger.warning("channel layer reconnected to Redis: closed %d sockets so they resume", closed)
