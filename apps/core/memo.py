"""Per-site settings a worker keeps for a second: read by every question, changed by an admin.

Every visitor question reads its site's bot and handoff settings, collections and guard terms,
one statement each on the worker's database thread, which every concurrent question queues for
(docs/benchmarks.md). They change only when an admin saves something, so a worker keeps what
it read for ``SECONDS``: saving or deleting a model registered with ``forget_on_change``
empties this worker's memo at once, and the other workers read the change within a second.

What ``site_settings.get`` returns is shared by every thread of the worker: read it, never
change it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

SECONDS = 1.0

T = TypeVar("T")


class Memo:
    """Values by key for ``seconds``; ``forget`` drops them all, including loads in flight."""

    def __init__(self, *, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, object]] = {}
        # Bumped by forget(): a load that started before it must not store what it read.
        self._generation = 0

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            generation = self._generation
        if entry is not None and entry[0] > now:
            return cast(T, entry[1])
        value = load()
        with self._lock:
            if generation == self._generation:
                self._entries[key] = (now + self._seconds, value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1


site_settings = Memo(seconds=SECONDS)


def _forget(**_: Any) -> None:
    site_settings.forget()
    # Another thread may read the old row again before this transaction commits.
    transaction.on_commit(site_settings.forget)


def forget_on_change(*senders: type[models.Model]) -> None:
    """Empty the memo whenever a row of ``senders`` is saved or deleted (for an M2M field, pass
    its ``through`` model: adding and removing links counts too)."""
    for sender in senders:
        uid = f"memo-{sender._meta.label}"
        post_save.connect(_forget, sender=sender, dispatch_uid=uid)
        post_delete.connect(_forget, sender=sender, dispatch_uid=uid)
        m2m_changed.connect(_forget, sender=sender, dispatch_uid=uid)
