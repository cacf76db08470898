"""A circuit breaker per route, shared by every worker through Redis when it is configured.

Closed: calls pass, consecutive failures are counted. At ``failures`` in a row the route opens
for ``cooldown`` seconds and is skipped. Then it is half-open: one caller (whoever claims the
probe) tries it; success closes it, failure opens it for another cooldown. The logic is written
once over a tiny key-value store: Redis (atomic commands, visible to all workers) or a dict in
this process for the embedded default.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import redis.asyncio as aioredis
from django.conf import settings

from apps.llm.loopbound import LoopBound

State = Literal["closed", "open", "half_open", "unknown"]
_STORE_ERRORS = (aioredis.RedisError, OSError)
logger = logging.getLogger(__name__)
# A failure streak forgotten after this long without news is no longer "consecutive".
_STREAK_TTL = 600.0


class Store(Protocol):
    async def get(self, *keys: str) -> list[str | None]: ...

    async def ttl(self, key: str) -> float | None: ...

    async def incr(self, key: str, ttl: float) -> int: ...

    async def set(self, key: str, ttl: float, *, only_new: bool = False) -> bool: ...

    async def delete(self, *keys: str) -> None: ...


class MemoryStore:
    """The store for one process: plain dict, monotonic expiry."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            # pop, not del: the admin's health page reads from another thread.
            self._data.pop(key, None)
            return None
        return item[0]

    async def get(self, *keys: str) -> list[str | None]:
        return [self._live(key) for key in keys]

    async def ttl(self, key: str) -> float | None:
        return self._data[key][1] - time.monotonic() if self._live(key) is not None else None

    async def incr(self, key: str, ttl: float) -> int:
        value = int(self._live(key) or 0) + 1
        self._data[key] = (str(value), time.monotonic() + ttl)
        return value

    async def set(self, key: str, ttl: float, *, only_new: bool = False) -> bool:
        if only_new and self._live(key) is not None:
            return False
        self._data[key] = ("1", time.monotonic() + ttl)
        return True

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)


# Breaker commands are tiny; when every connection is busy a caller waits for one (up to
# _POOL_WAIT s) instead of failing, as redis-py's default pool does past 100 connections.
_POOL_SIZE = 64
_POOL_WAIT = 2.0


def _redis_new() -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.REDIS_URL, max_connections=_POOL_SIZE, timeout=_POOL_WAIT, decode_responses=True
    )
    return aioredis.Redis(connection_pool=pool)


async def _redis_close(client: aioredis.Redis) -> None:
    await client.aclose()


_redis_clients = LoopBound(_redis_new, _redis_close)


class RedisStore:
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    @property
    def _client(self) -> aioredis.Redis:
        return _redis_clients.get()

    async def get(self, *keys: str) -> list[str | None]:
        values = await self._client.mget([self._prefix + key for key in keys])
        return [None if value is None else str(value) for value in values]

    async def ttl(self, key: str) -> float | None:
        millis = await self._client.pttl(self._prefix + key)
        return millis / 1000 if millis >= 0 else None

    async def incr(self, key: str, ttl: float) -> int:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.pexpire(self._prefix + key, int(ttl * 1000))
            value, _ = await pipe.execute()
        return int(value)

    async def set(self, key: str, ttl: float, *, only_new: bool = False) -> bool:
        done = await self._client.set(self._prefix + key, "1", px=int(ttl * 1000), nx=only_new)
        return bool(done)

    async def delete(self, *keys: str) -> None:
        await self._client.delete(*(self._prefix + key for key in keys))


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: State
    failures: int
    # Seconds until an open route may be probed again.
    retry_in: float | None = None


class Breaker:
    """Route health. If its store (Redis) is unreachable it fails open: answers go on."""

    def __init__(self, store: Store, *, failures: int, cooldown: float) -> None:
        self.store = store
        self.failures = failures
        self.cooldown = cooldown
        # Routes this breaker found with no failure streak: their success changes nothing,
        # so it costs no round trip. (A breaker serves one call; see services._gateway.)
        self._clean: set[str] = set()

    async def allow(self, key: str) -> bool:
        """Say whether a call may go to this route now; claims the probe when half-open."""
        try:
            opened, streak = await self.store.get(f"{key}:open", f"{key}:fails")
            if opened:
                return False
            if not streak:
                self._clean.add(key)
                return True
            if int(streak) < self.failures:
                return True
            return await self.store.set(f"{key}:probe", self.cooldown, only_new=True)
        except _STORE_ERRORS as exc:
            logger.warning("circuit breaker store unreachable (%s); calling %s anyway", exc, key)
            return True

    async def success(self, key: str) -> None:
        if key in self._clean:
            return
        try:
            await self.store.delete(f"{key}:fails", f"{key}:open", f"{key}:probe")
        except _STORE_ERRORS as exc:
            logger.warning("circuit breaker store unreachable (%s); %s success not noted", exc, key)

    async def failure(self, key: str) -> None:
        self._clean.discard(key)
        try:
            streak = await self.store.incr(f"{key}:fails", max(_STREAK_TTL, self.cooldown * 4))
            if streak >= self.failures:
                await self.store.set(f"{key}:open", self.cooldown)
                await self.store.delete(f"{key}:probe")
        except _STORE_ERRORS as exc:
            logger.warning("circuit breaker store unreachable (%s); %s failure not noted", exc, key)

    async def state(self, key: str) -> BreakerState:
        try:
            opened, streak = await self.store.get(f"{key}:open", f"{key}:fails")
            retry_in = await self.store.ttl(f"{key}:open") if opened else None
        except _STORE_ERRORS:
            return BreakerState("unknown", 0)
        failures = int(streak or 0)
        if opened:
            return BreakerState("open", failures, retry_in)
        if failures >= self.failures:
            return BreakerState("half_open", failures)
        return BreakerState("closed", failures)


_memory_store = MemoryStore()


def breaker_get(*, failures: int, cooldown: float) -> Breaker:
    """Return the breaker over Redis when REDIS_URL is set, else over this process's memory."""
    store: Store
    if settings.REDIS_URL:
        # The deployment's Redis prefix (CSBOT_REDIS_PREFIX), as the cache uses it.
        prefix = settings.CACHES["default"].get("KEY_PREFIX") or "csbot"
        store = RedisStore(f"{prefix}:llm:breaker:")
    else:
        store = _memory_store
    return Breaker(store, failures=failures, cooldown=cooldown)
