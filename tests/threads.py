"""Run calls on threads of their own, released together: races between workers, in one test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]], *, timeout: float = 30) -> list[T]:
    """Each call on a thread of its own, all started at one barrier; their results in order.

    Each thread closes its database connection when its call ends (a connection left open
    keeps the test database from being dropped). A call's exception is raised here.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[bool, object]] = [(False, None)] * len(calls)

    def run(index: int, call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            outcomes[index] = (True, call())
        except BaseException as exc:
            outcomes[index] = (False, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
        if thread.is_alive():
            raise TimeoutError(f"a call did not end within {timeout} s")
    results = []
    for returned, value in outcomes:
        if not returned:
            raise value if isinstance(value, BaseException) else RuntimeError("call never ran")
        results.append(value)
    return results
