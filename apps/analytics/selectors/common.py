"""What every figure shares: the period in the site's own days, its settings, who may see it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from apps.analytics.models import DEFAULT_REOPEN_WINDOW_HOURS, OutcomeSettings
from apps.sites.models import Site

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Whole days ``first``..``last`` in the site's time zone, as the instants they span."""

    first: dt.date
    last: dt.date
    zone: zoneinfo.ZoneInfo
    # The moment figures are judged at: a conversation still inside its window is "open".
    now: dt.datetime

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time.min, tzinfo=self.zone)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the period (exclusive)."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min, tzinfo=self.zone)

    @property
    def days(self) -> list[dt.date]:
        count = (self.last - self.first).days + 1
        return [self.first + dt.timedelta(days=n) for n in range(count)]


def period_for(
    *,
    site: Site,
    now: dt.datetime,
    days: int = 30,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> Period:
    """The period ending ``last`` (default: today at the site) of ``days`` days, or from ``first``.

    A period longer than ``MAX_DAYS`` is cut to its last ``MAX_DAYS`` days.
    """
    zone = zoneinfo.ZoneInfo(site.time_zone)
    last = last or now.astimezone(zone).date()
    first = first or last - dt.timedelta(days=max(days, 1) - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - dt.timedelta(days=MAX_DAYS - 1))
    return Period(first=first, last=last, zone=zone, now=now)


def outcome_settings_get(*, site: Site) -> OutcomeSettings:
    """The site's settings, or unsaved defaults when it has none."""
    return OutcomeSettings.objects.filter(site=site).first() or OutcomeSettings(
        site=site, reopen_window_hours=DEFAULT_REOPEN_WINDOW_HOURS
    )


def insight_sites(*, user: Any) -> QuerySet[Site]:
    """The sites whose figures ``user`` may see.

    Staff only. Superusers and holders of ``analytics.view_all_insights`` see every site; other
    staff see the sites of the teams they belong to.
    """
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return Site.objects.none()
    if user.has_perm("analytics.view_all_insights"):
        return Site.objects.order_by("name", "pk")
    return Site.objects.filter(teams__members=user).distinct().order_by("name", "pk")
