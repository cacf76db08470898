"""The ASGI lifespan of a worker process: background work that lives as long as it does."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.bot.services import replies_sweep_forever
from apps.handoff.webhooks import webhook_runner_kick, webhook_runner_stop


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """From start-up to shutdown (uvicorn sends lifespan events): sweep dead workers' answers
    and post webhook deliveries left due by a stopped worker."""
    tasks: list[asyncio.Task[None]] = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tasks.append(asyncio.create_task(replies_sweep_forever(), name="csbot-reply-sweep"))
            # Its thread checks for due deliveries once and ends if there are none.
            webhook_runner_kick()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(webhook_runner_stop)
            await send({"type": "lifespan.shutdown.complete"})
            return
