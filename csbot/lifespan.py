"""The ASGI lifespan of a worker process: background work that lives as long as it does."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.bot.services import replies_sweep_forever
from apps.handoff.mail import reply_email_runner
from apps.handoff.services.stranded import handoffs_sweep_forever
from apps.handoff.webhooks import webhook_runner

# Durable background work: each runner's thread finds due rows once and ends if there are none.
RUNNERS = (webhook_runner, reply_email_runner)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """From start-up to shutdown (uvicorn sends lifespan events): sweep dead workers' answers
    and waiting visitors nobody can take, and post the webhook deliveries and reply emails a
    stopped worker left due."""
    tasks: list[asyncio.Task[None]] = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tasks.append(asyncio.create_task(replies_sweep_forever(), name="csbot-reply-sweep"))
            tasks.append(asyncio.create_task(handoffs_sweep_forever(), name="csbot-handoff-sweep"))
            for runner in RUNNERS:
                runner.kick()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for runner in RUNNERS:
                await asyncio.to_thread(runner.stop)
            await send({"type": "lifespan.shutdown.complete"})
            return
