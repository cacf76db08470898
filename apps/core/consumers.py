"""The base of csbot's websocket consumers."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class JsonConsumer(AsyncJsonWebsocketConsumer):
    """A JSON websocket consumer whose messages reach their handler without a database hop.

    Channels' ``AsyncConsumer.dispatch`` first closes stale database connections on the
    worker's database thread, for every message: every frame and every event, so one hop per
    delta of a streamed answer per socket, queued behind every database call of the worker.
    csbot's consumers reach the database only through ``database_sync_to_async``, which closes
    stale connections around each call itself, so the hop protects nothing here.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
