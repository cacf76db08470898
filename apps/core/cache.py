"""The default cache as one object per process, for code on the sockets' path.

Django's ``cache`` is one backend object per async context, each with its own Redis connection
pool: every websocket (and every bot reply, which inherits its socket's context) opened Redis
connections of its own on its first rate-limit check and held them while it lived, so 10,000
sockets on a worker meant 10,000 Redis connections, past Redis's default ``maxclients``
(``bench/load.py``, docs/benchmarks.md "Load"). redis-py's pool is thread-safe, and the
local-memory backend keeps its data per process anyway, so one object serves every context.
"""

from __future__ import annotations

from django.core.cache import BaseCache, caches

_shared: BaseCache | None = None


def shared_cache() -> BaseCache:
    """Return this process's one default-cache object (created on first use)."""
    global _shared
    if _shared is None:
        # Two threads racing here each build one; either serves, the other is dropped.
        _shared = caches.create_connection("default")
    return _shared
