"""SLA clocks run in business time only, in the site's time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apps.handoff.sla import business_deadline, business_minutes

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Window:
    weekday: int
    opens: dt.time
    closes: dt.time


WEEKDAYS_9_TO_18 = [Window(day, dt.time(9), dt.time(18)) for day in range(5)]


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in Shanghai in the week of Monday 2026-11-16."""
    return dt.datetime(2026, 11, 16 + day, hour, minute, tzinfo=SHANGHAI)


def deadline(start: dt.datetime, minutes: int, windows=WEEKDAYS_9_TO_18) -> dt.datetime:
    return business_deadline(
        start=start, minutes=minutes, windows=windows, time_zone="Asia/Shanghai"
    )


def test_without_business_hours_the_clock_always_runs():
    start = at(5, 23, 50)
    assert deadline(start, 30, windows=[]) == start + dt.timedelta(minutes=30)


def test_within_hours_minutes_are_added_as_they_are():
    assert deadline(at(0, 10), 30) == at(0, 10, 30)


def test_the_clock_stops_at_closing_and_resumes_at_the_next_opening():
    # Friday 17:55 + 10 business minutes = Monday 09:05.
    assert deadline(at(4, 17, 55), 10) == at(7, 9, 5)


def test_a_ticket_opened_at_night_starts_its_clock_in_the_morning():
    assert deadline(at(1, 22), 60) == at(2, 10)


def test_long_deadlines_span_several_days():
    # Two full business days (9 h each) plus one hour, from Monday opening.
    assert deadline(at(0, 9), (9 * 2 + 1) * 60) == at(2, 10)


def test_zero_minutes_is_the_next_opening():
    assert deadline(at(5, 12), 0) == at(7, 9)
    assert deadline(at(0, 12), 0) == at(0, 12)


def minutes_between(start: dt.datetime, end: dt.datetime, windows=WEEKDAYS_9_TO_18) -> int:
    return business_minutes(start=start, end=end, windows=windows, time_zone="Asia/Shanghai")


def test_business_minutes_count_only_opening_hours():
    # Friday 17:30 to Monday 09:15: 30 minutes on Friday, 15 on Monday.
    assert minutes_between(at(4, 17, 30), at(7, 9, 15)) == 45
    assert minutes_between(at(0, 10), at(0, 10, 20)) == 20
    assert minutes_between(at(1, 19), at(2, 8)) == 0


def test_business_minutes_are_wall_minutes_without_hours_and_zero_backwards():
    assert minutes_between(at(5, 23), at(6, 1), windows=[]) == 120
    assert minutes_between(at(0, 12), at(0, 11)) == 0


def test_business_minutes_undo_a_business_deadline():
    start = at(4, 16)
    assert minutes_between(start, deadline(start, 500)) == 500


# A late shift: Monday 18:00 until midnight, then Tuesday from midnight to 02:00.
LATE = [Window(0, dt.time(18), dt.time(0)), Window(1, dt.time(0), dt.time(2))]


def test_a_window_closing_at_00_00_runs_until_midnight():
    # Monday 23:50 + 30 business minutes: ten before midnight, twenty after.
    assert deadline(at(0, 23, 50), 30, windows=LATE) == at(1, 0, 20)
    assert minutes_between(at(0, 17), at(1, 3), windows=LATE) == 8 * 60
    # Its week has 8 hours: a deadline of 9 runs into the next Monday's shift.
    assert deadline(at(0, 18), 9 * 60, windows=LATE) == at(7, 19)
