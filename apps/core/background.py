"""Durable background work of one process: a thread per kind of due row, alive while rows are due.

The rows (webhook deliveries, reply emails) are the queue: they are written in the transaction
that makes the work, and each attempt claims its row with a conditional UPDATE, so a second
worker or a restarted one finding old rows never does one piece of work twice at once. A thread
here only decides *when* to look again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILED_ROUND = dt.timedelta(seconds=60)


class BackgroundRunner:
    """Runs ``run_due`` in a thread of its own after each ``kick`` and whenever it said to.

    ``run_due`` does what is due now and returns when something is due next (``None``: nothing
    is pending, and the thread ends until the next kick).
    """

    def __init__(self, name: str, run_due: Callable[[], dt.datetime | None]) -> None:
        self.name = name
        self.run_due = run_due
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = False
        self.thread: threading.Thread | None = None

    def kick(self) -> None:
        """Make sure this process looks for due rows now."""
        with self.lock:
            if self.thread is not None:
                self.wake.set()
                return
            self.stopping = False
            self.thread = threading.Thread(target=self.loop, name=self.name, daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Stop the thread (shutdown and tests); pending rows stay pending."""
        with self.lock:
            thread, self.stopping = self.thread, True
            self.wake.set()
        if thread is not None:
            thread.join(timeout=30)

    def loop(self) -> None:
        while True:
            with self.lock:
                if self.stopping:
                    self.thread = None
                    return
            self.wake.clear()
            next_due = self.round()
            with self.lock:
                # Decided under the lock kick() takes, so no kick falls between check and exit.
                if next_due is None and not self.wake.is_set():
                    self.thread = None
                    return
            if next_due is not None:
                wait = (next_due - timezone.now()).total_seconds()
                self.wake.wait(min(max(wait, 0.05), 60))

    def round(self) -> dt.datetime | None:
        try:
            return self.run_due()
        except Exception:
            logger.exception("%s failed; retrying in a minute", self.name)
            return timezone.now() + RETRY_AFTER_FAILED_ROUND
        finally:
            # This thread's own connection: not left open between rounds.
            connections.close_all()
