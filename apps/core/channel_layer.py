"""The production channel layer: channels_redis's pub/sub layer, told when its subscriptions
were interrupted.

Why pub/sub: channels_redis's list-based layer spends about five Redis commands on every event
(the group's members, a Lua push, the receiver's pop, its backup and the clean-up), and a
streamed answer is one event per delta: that was the largest share of a worker's CPU per
answer (docs/benchmarks.md, "The channel layer"). Pub/sub publishes once, and each worker's one
subscriber connection hands the event to its own sockets.

What it gives up: Redis keeps nothing for a subscriber that is away. Whenever a worker's
subscriber connection comes back after a drop (Redis restarted, the network failed, Redis cut
off a subscriber too slow to read), the events published meanwhile are gone. The layer then
awaits ``on_resubscribe`` (CONFIG, a dotted path to a coroutine function):
``apps.chat.layerwatch.sockets_close_all`` closes the worker's sockets with 1012, and the widget
and the console reconnect and ``resume`` from what is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from django.utils.module_loading import import_string
from redis.asyncio.client import PubSub
from redis.asyncio.connection import Connection

logger = logging.getLogger(__name__)

Resubscribed = Callable[[], Awaitable[object]]


class ResubscribingPubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> RedisPubSubLoopLayer:
        # As the parent's, with the loop layer below: the parent names its class directly.
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, on_resubscribe: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resubscribed: Resubscribed = import_string(on_resubscribe)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]


class _Shard(RedisSingleShardConnection):
    channel_layer: _LoopLayer

    def _ensure_redis(self) -> None:
        if self._redis is None:
            super()._ensure_redis()
            self._pubsub = _ResubscribingPubSub(
                self._redis.connection_pool, resubscribed=self.channel_layer.resubscribed
            )


class _ResubscribingPubSub(PubSub):
    def __init__(self, *args: Any, resubscribed: Resubscribed, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resubscribed = resubscribed

    async def on_connect(self, connection: Connection) -> None:
        # redis-py calls this when the connection comes back (not when it is first made),
        # after the subscriptions were gone for a while.
        await super().on_connect(connection)
        try:
            await self._resubscribed()
        except Exception:
            logger.exception("the channel layer's on_resubscribe failed")
