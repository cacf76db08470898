"""Formatting for the insights page: shares as percentages, durations in words a manager reads."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext as _

register = template.Library()

NONE = "—"


@register.filter
def percent(value: float | None) -> str:
    """0.4567 → "45.7%"; None (nothing to divide by) → "—"."""
    return NONE if value is None else f"{value * 100:.1f}%"


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """A duration rounded to what matters: "42 s", "7 min", "3 h 5 min", "2 d 4 h"."""
    if value is None:
        return NONE
    seconds = max(int(value.total_seconds()), 0)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes = seconds // 60
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours}


@register.filter
def get(mapping: dict, key: object) -> object:
    return mapping.get(key, 0)
