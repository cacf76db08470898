"""The base of csbot's websocket consumers."""

from __future__ import annotations

import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

logger = logging.getLogger(__name__)


class JsonConsumer(AsyncJsonWebsocketConsumer):
    """A JSON websocket consumer whose messages reach their handler without a database hop,
    that sends nothing after its own close, and that cleans up even when a handler fails.

    Channels' ``AsyncConsumer.dispatch`` first closes stale database connections on the
    worker's database thread, for every message: every frame and every event, so one hop per
    delta of a streamed answer per socket, queued behind every database call of the worker.
    csbot's consumers reach the database only through ``database_sync_to_async``, which closes
    stale connections around each call itself, so the hop protects nothing here.
    """

    # Set once this consumer closed the socket. Frames the client sent before it heard the
    # close are dropped, and so are sends: the server must send nothing after a close (uvicorn
    # raises, and the consumer would die without ``disconnect``).
    closing = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception:
            # The consumer dies with this and never hears websocket.disconnect: disconnect now,
            # so what it holds (a socket slot per address, presence, groups) is given back.
            # Unless it was disconnect itself that failed: running it again would fail again.
            if message["type"] != "websocket.disconnect":
                try:
                    await self.disconnect(1011)
                except Exception:
                    logger.exception("cleaning up after a failed %s failed too", message["type"])
            raise

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if not self.closing:
            await super().websocket_receive(message)

    async def send_json(self, content: Any, close: bool = False) -> None:
        # Every frame of csbot's consumers goes out here (AsyncJsonWebsocketConsumer.send_json
        # calls the websocket send beneath this class, so overriding send would not see it).
        if not self.closing:
            await super().send_json(content, close=close)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if not self.closing:
            self.closing = True
            await super().close(code=code, reason=reason)
