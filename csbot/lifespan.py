"""The ASGI lifespan of a worker process: background work that lives as long as it does."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.bot.services import replies_sweep_forever


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Sweep dead workers' answers from start-up to shutdown (uvicorn sends lifespan events)."""
    sweep: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            sweep = asyncio.create_task(replies_sweep_forever(), name="csbot-reply-sweep")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if sweep is not None:
                sweep.cancel()
                await asyncio.gather(sweep, return_exceptions=True)
            await send({"type": "lifespan.shutdown.complete"})
            return
