"""One shared client per running event loop, made on first use and closed together.

Network clients (httpx, redis.asyncio) hold connections bound to the loop that opened them. A
process normally runs one loop, but tests and management commands start fresh ones; keying by
loop keeps each loop's connections to itself, and ``loop_clients_close`` releases them before the
loop ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

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
    """

    async def run() -> T:
        try:
            return await main()
        finally:
            await loop_clients_close()

    return asyncio.run(run())
