"""Business-time arithmetic for SLA clocks: the clock only runs while the site is open."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Protocol


class Window(Protocol):
    weekday: int
    opens: dt.time
    closes: dt.time


def _window_bounds(
    day: dt.date, window: Window, zone: dt.tzinfo | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """When ``window`` opens and closes on ``day``; closing at 00:00 is closing at midnight."""
    opens = dt.datetime.combine(day, window.opens, tzinfo=zone)
    closing_day = day + dt.timedelta(days=1) if window.closes == dt.time(0) else day
    return opens, dt.datetime.combine(closing_day, window.closes, tzinfo=zone)


def _weekly_minutes(windows: Sequence[Window]) -> int:
    return sum(
        (closes - opens) // dt.timedelta(minutes=1)
        for opens, closes in (_window_bounds(dt.date(2000, 1, 3), w) for w in windows)
    )


def business_minutes(
    *, start: dt.datetime, end: dt.datetime, windows: Sequence[Window], time_zone: str
) -> int:
    """Return the whole minutes of business time from ``start`` to ``end`` (0 if it is not after).

    No windows means always open.
    """
    if end <= start:
        return 0
    if not windows:
        return (end - start) // dt.timedelta(minutes=1)
    zone = zoneinfo.ZoneInfo(time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    total = dt.timedelta()
    day = local_start.date()
    while day <= local_end.date():
        for window in windows:
            if window.weekday != day.weekday():
                continue
            opens, closes = _window_bounds(day, window, zone)
            total += max(min(closes, local_end) - max(opens, local_start), dt.timedelta())
        day += dt.timedelta(days=1)
    return total // dt.timedelta(minutes=1)


def business_deadline(
    *, start: dt.datetime, minutes: int, windows: Sequence[Window], time_zone: str
) -> dt.datetime:
    """Return the moment ``minutes`` of business time after ``start``.

    No windows means always open. With ``minutes=0`` this is the next moment the site is open
    (``start`` itself when it is open then).
    """
    if not windows:
        return start + dt.timedelta(minutes=minutes)
    zone = zoneinfo.ZoneInfo(time_zone)
    local_start = start.astimezone(zone)
    remaining = dt.timedelta(minutes=minutes)
    by_weekday = sorted(windows, key=lambda w: (w.weekday, w.opens))
    # Enough days to spend every minute even in the thinnest week, plus a week of slack.
    days = 7 * (minutes // max(_weekly_minutes(windows), 1) + 2)
    for offset in range(days + 1):
        day = local_start.date() + dt.timedelta(days=offset)
        for window in by_weekday:
            if window.weekday != day.weekday():
                continue
            opens, closes = _window_bounds(day, window, zone)
            begin = max(opens, local_start)
            if begin >= closes:
                continue
            if remaining <= closes - begin:
                return (begin + remaining).astimezone(dt.UTC)
            remaining -= closes - begin
    raise AssertionError("unreachable: the loop covers every minute")  # pragma: no cover
