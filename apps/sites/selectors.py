from __future__ import annotations

import datetime as dt
import zoneinfo

from apps.sites.models import Language, Site
from apps.sites.origins import origin_allowed, origin_patterns_parse


def site_get_by_key(*, public_key: str) -> Site | None:
    return Site.objects.filter(public_key=public_key).first()


def site_origin_allowed(*, site: Site, origin: str | None) -> bool:
    return origin_allowed(origin, origin_patterns_parse(site.allowed_origins))


def site_is_open(*, site: Site, at: dt.datetime) -> bool:
    """Whether ``at`` falls in the site's business hours (no hours set: always open)."""
    windows = list(site.business_hours.all())
    if not windows:
        return True
    local = at.astimezone(zoneinfo.ZoneInfo(site.time_zone))
    return any(
        window.weekday == local.weekday()
        and window.opens <= local.time()
        # Closing at 00:00 is closing at midnight.
        and (local.time() < window.closes or window.closes == dt.time(0))
        for window in windows
    )


def site_greeting(*, site: Site, language: str) -> str:
    """The greeting for a visitor in ``language`` ("zh-CN", "en-US", "zh-hans"; "" if unknown)."""
    spoken = Language.of(language) or site.default_language
    if spoken != site.default_language and site.greeting_other:
        return site.greeting_other
    return site.greeting
