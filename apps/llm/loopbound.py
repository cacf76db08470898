"""One shared client per running event loop, made on first use and closed together.

Network clients (httpx, redis.asyncio) hold connections bound to the loop that opened them. A
process normally runs one loop, but tests and management commands start fresh ones; keying by
loop keeps each loop's connections to itself, and ``loop_clients_close`` releases them before the
loop ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections

T = TypeVar("T")


class LoopBound(Generic[T]):
    def __init__(
        self, factory: Callable[[], T], closer: Callable[[T], Awaitable[object]] | None = None
    ) -> None:
        self._factory = factory
        self._closer = closer
        self._items: WeakKeyDictionary[asyncio.AbstractEventLoop, T] = WeakKeyDictionary()
        _registry.append(self)

    def get(self) -> T:
        """Return the running loop's instance, making it on first use."""
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
        return item

    async def aclose(self) -> None:
        item = self._items.pop(asyncio.get_running_loop(), None)
        if item is not None and self._closer is not None:
            await self._closer(item)


_registry: list[LoopBound[Any]] = []


async def loop_clients_close() -> None:
    """Close every shared client of the running loop (end of a command, a test, a worker)."""
    for bound in _registry:
        await bound.aclose()


def run_in_own_loop(main: Callable[[], Awaitable[T]]) -> T:
    """Run gateway work from sync code (admin views, commands) in a short-lived loop of its own.

    Never ``async_to_sync`` for this: under ASGI it would run on the server's loop, and closing
    the clients afterwards would cut the streams of every visitor being answered.

    The loop runs in a fresh thread (an empty context) with a database thread of its own. A
    sync view under ASGI already runs in one of asgiref's thread-sensitive executors; a loop in
    that thread, or one sending its database calls to asgiref's shared database thread, would
    hand the usage writer's inserts to a thread blocked waiting for the loop ("You cannot submit
    onto CurrentThreadExecutor from its own thread", or a deadlock). The database thread's
    connection is closed before it ends.
    """

    async def run() -> T:
        async with ThreadSensitiveContext():
            try:
                return await main()
            finally:
                await loop_clients_close()
                await sync_to_async(connections.close_all)()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csbot-own-loop") as pool:
        return pool.submit(lambda: asyncio.run(run())).result()
