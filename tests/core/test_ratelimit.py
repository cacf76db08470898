"""Counters in the shared cache: rate limits and socket slots."""

from __future__ import annotations

from apps.core.cache import shared_cache
from apps.core.ratelimit import slot_acquire


def test_a_slot_counter_lost_between_creating_and_counting_starts_a_new_count(monkeypatch):
    cache = shared_cache()
    real_add = cache.add

    def add_then_lost(key, value, timeout=None):
        added = real_add(key, value, timeout=timeout)
        if value == 0:
            # What a Redis flush or restart between add() and incr() leaves behind.
            cache.delete(key)
        return added

    monkeypatch.setattr(cache, "add", add_then_lost)
    assert slot_acquire(scope="test-slots", key="10.0.0.1", limit=2)
    monkeypatch.undo()

    assert slot_acquire(scope="test-slots", key="10.0.0.1", limit=2)
    assert not slot_acquire(scope="test-slots", key="10.0.0.1", limit=2)
