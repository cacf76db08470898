"""Fixed-window counters in the Django cache (Redis when configured, so shared by all workers)."""

from __future__ import annotations

import contextlib
import time

from apps.core.cache import shared_cache


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int, cost: int = 1) -> bool:
    """Count a hit of ``cost`` (1, or e.g. an upload's bytes); return ``True`` while the
    caller is within ``limit`` for this window, this hit included."""
    cache = shared_cache()
    window = int(time.time() // window_seconds)
    cache_key = f"ratelimit:{scope}:{key}:{window}"
    # add() is atomic: only the first hit of a window creates the counter.
    if cache.add(cache_key, cost, timeout=window_seconds + 1):
        return cost <= limit
    try:
        count = cache.incr(cache_key, cost)
    except ValueError:
        # The counter expired between add() and incr(): this hit opens a new window.
        cache.add(cache_key, cost, timeout=window_seconds + 1)
        return cost <= limit
    return count <= limit


def slot_acquire(*, scope: str, key: str, limit: int, ttl_seconds: int = 3600) -> bool:
    """Take one of ``limit`` concurrent slots (open sockets); ``False`` when all are taken.

    The counter expires ``ttl_seconds`` after the last acquisition, so slots held by a worker
    that died are given back eventually instead of locking the client out for good.
    """
    cache = shared_cache()
    cache_key = f"slots:{scope}:{key}"
    cache.add(cache_key, 0, timeout=ttl_seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # The counter vanished between add() and incr() (expired, or Redis lost its data):
        # this socket starts a new count.
        cache.add(cache_key, 1, timeout=ttl_seconds)
        count = 1
    cache.touch(cache_key, ttl_seconds)
    if count > limit:
        cache.decr(cache_key)
        return False
    return True


def slot_release(*, scope: str, key: str) -> None:
    # ValueError: the counter expired while the socket was open; nothing left to give back.
    with contextlib.suppress(ValueError):
        shared_cache().decr(f"slots:{scope}:{key}")
