"""Bound each wait on a stream without paying for a timer per token.

``asyncio.timeout`` around every read schedules and cancels one timer per token (about 5 µs;
thousands of tokens a second on a busy worker). Here an attempt keeps one timer: each wait only
records its deadline; when the timer fires it cancels the wait if that deadline has not moved,
else re-arms itself for the new one, so it fires about once per deadline period. Cancellation is
delivered, and told apart from the caller's own, the way ``asyncio.timeout`` does it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Watchdog:
    __slots__ = ("_armed_for", "_deadline", "_expired", "_handle", "_loop", "_task")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = 0.0
        self._deadline = 0.0
        self._task: asyncio.Task[object] | None = None
        self._expired = False

    async def wait(self, awaitable: Awaitable[T], deadline: float) -> T:
        """Await ``awaitable``; raise TimeoutError if it is not done by ``deadline`` (loop time)."""
        self._deadline = deadline
        self._task = asyncio.current_task()
        if self._handle is None or deadline < self._armed_for:
            self._arm(deadline)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._expired and self._task is not None and self._task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            self._task = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_for = deadline
        self._handle = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if self._task is None:
            # Not waiting (the reader is busy elsewhere): the next wait arms it again.
            return
        if self._deadline <= self._armed_for:
            self._expired = True
            self._task.cancel()
        else:
            self._arm(self._deadline)
