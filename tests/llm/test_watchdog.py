"""The per-attempt watchdog: one timer, and waits that time out exactly like asyncio.timeout."""

from __future__ import annotations

import asyncio

import pytest

from apps.llm.watchdog import Watchdog


async def test_a_wait_past_its_deadline_raises_timeout():
    watchdog = Watchdog()
    loop = asyncio.get_running_loop()

    with pytest.raises(TimeoutError):
        await watchdog.wait(asyncio.sleep(5), loop.time() + 0.05)


async def test_waits_that_keep_moving_the_deadline_never_time_out():
    watchdog = Watchdog()
    loop = asyncio.get_running_loop()

    for _ in range(8):
        assert await watchdog.wait(asyncio.sleep(0.02, "tick"), loop.time() + 0.05) == "tick"
    watchdog.close()


async def test_time_spent_outside_a_wait_is_not_counted():
    watchdog = Watchdog()
    loop = asyncio.get_running_loop()
    await watchdog.wait(asyncio.sleep(0), loop.time() + 0.05)

    await asyncio.sleep(0.1)  # the reader is busy: the timer fires and finds no wait

    assert await watchdog.wait(asyncio.sleep(0.01, "ok"), loop.time() + 0.05) == "ok"
    watchdog.close()


async def test_an_earlier_deadline_is_honoured():
    watchdog = Watchdog()
    loop = asyncio.get_running_loop()
    await watchdog.wait(asyncio.sleep(0), loop.time() + 30)
    started = loop.time()

    with pytest.raises(TimeoutError):
        await watchdog.wait(asyncio.sleep(5), loop.time() + 0.05)
    assert loop.time() - started < 1


async def test_the_callers_own_cancellation_stays_a_cancellation():
    watchdog = Watchdog()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(watchdog.wait(asyncio.sleep(5), loop.time() + 30))
    await asyncio.sleep(0.01)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    watchdog.close()
