"""Fixed-window counters in the Django cache (Redis when configured, so shared by all workers)."""

from __future__ import annotations

import time

from django.core.cache import cache


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit; return ``True`` while the caller is within ``limit`` for this window."""
    window = int(time.time() // window_seconds)
    cache_key = f"ratelimit:{scope}:{key}:{window}"
    # add() is atomic: only the first hit of a window creates the counter.
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # The counter expired between add() and incr(): this hit opens a new window.
        cache.add(cache_key, 1, timeout=window_seconds + 1)
        return True
    return count <= limit
