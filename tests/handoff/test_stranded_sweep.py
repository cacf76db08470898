"""Every worker's sweep releases waiting visitors nobody can take, whatever worker they left on."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from apps.chat.models import Conversation
from apps.handoff.services import stranded
from csbot.lifespan import lifespan
from tests.handoff.sockets import frames_with, system_texts
from tests.handoff.test_stranded import NOBODY, waiting_with

pytestmark = [pytest.mark.django_db(transaction=True)]


async def worker_started() -> tuple[asyncio.Task[None], asyncio.Queue[dict[str, str]]]:
    """Another worker's lifespan, running until ``lifespan.shutdown`` is put in its queue."""
    incoming: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: dict[str, str]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await incoming.put({"type": "lifespan.startup"})
    task = asyncio.create_task(lifespan({"type": "lifespan"}, incoming.get, send))
    await asyncio.wait_for(started.wait(), timeout=5)
    return task, incoming


async def test_a_worker_stopping_within_the_grace_leaves_the_release_to_the_sweep(
    english, visitor, agent, settings
):
    settings.CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS = 1.0
    console, _, widget = await waiting_with(agent, visitor)
    # Earlier tests' releases may still be listed, on event loops closed before they ran.
    before = set(stranded._later)
    await console.disconnect()
    # The worker whose console closed stops before the grace is over: its release never runs.
    lost = list(stranded._later - before)
    assert lost
    for task in lost:
        task.cancel()
    await asyncio.gather(*lost, return_exceptions=True)
    assert all(task.cancelled() for task in lost)

    # Within the grace no sweep releases anyone: a console may be reloading.
    released = await database_sync_to_async(stranded.handoffs_waiting_release)(grace=True)
    assert released == []

    worker, incoming = await worker_started()
    try:
        frames = await frames_with(widget, "conversation.status", "handoff.unavailable")
    finally:
        await incoming.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(worker, timeout=5)
    assert {"type": "conversation.status", "status": "bot", "reason": "nobody_online"} in frames
    assert system_texts(frames) == [NOBODY]
    assert (await Conversation.objects.aget()).status == Conversation.Status.BOT
    await widget.disconnect()


async def test_the_sweep_leaves_a_visitor_someone_can_take_waiting(english, visitor, agent):
    console, _, widget = await waiting_with(agent, visitor)
    released = await database_sync_to_async(stranded.handoffs_waiting_release)(grace=True)
    assert released == []
    assert await widget.receive_nothing(timeout=0.1)
    assert (await Conversation.objects.aget()).status == Conversation.Status.WAITING
    await widget.disconnect()
    await console.disconnect()


def test_the_sweep_costs_one_query_while_nobody_waits(site, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert stranded.handoffs_waiting_release(grace=True) == []
