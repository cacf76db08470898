"""Usage records are written in the background, in batches: accounting never delays an answer.

Each attempt is handed over as a ``UsageEntry`` the moment it ends; one writer per event loop
drains what has piled up into a single bulk insert, so a burst of answers finishing together
costs one database round trip instead of one each. ``flush`` waits for the writer (tests,
commands, the end of a loop).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from apps.llm.gateway import Attempt

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UsageEntry:
    call_id: uuid.UUID
    attempt: Attempt
    purpose: str
    site_id: int | None
    conversation_id: int | None
    message_id: int | None
    # When the attempt ended: the price in force then is the one charged.
    at: datetime
    # apps.llm.models.Origin: a visitor's answer unless the caller said otherwise.
    origin: str = "visitor"


class UsageWriter:
    def __init__(self, write: Callable[[list[UsageEntry]], Awaitable[object]]) -> None:
        self._write = write
        self._pending: list[UsageEntry] = []
        self._task: asyncio.Task[None] | None = None

    def submit(self, entry: UsageEntry) -> None:
        self._pending.append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._write(batch)
            except Exception:
                # The answers were given; losing their accounting is logged, not raised.
                logger.exception("writing %d usage records failed", len(batch))

    async def flush(self) -> None:
        """Wait until every entry submitted so far is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
