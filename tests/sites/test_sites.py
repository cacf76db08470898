from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from apps.sites.models import BusinessHours, Site
from apps.sites.origins import origin_allowed, origin_patterns_parse
from apps.sites.selectors import site_is_open


def test_origins_match_scheme_host_and_port_exactly():
    patterns = origin_patterns_parse(
        "https://shop.example.com\nhttp://localhost:8000\nhttps://*.example.cn"
    )
    assert origin_allowed("https://shop.example.com", patterns)
    assert origin_allowed("https://SHOP.example.com:443", patterns)
    assert origin_allowed("http://localhost:8000", patterns)
    assert origin_allowed("https://m.example.cn", patterns)
    assert not origin_allowed("https://example.cn", patterns)
    assert not origin_allowed("http://shop.example.com", patterns)
    assert not origin_allowed("http://localhost:8001", patterns)
    assert not origin_allowed("https://shop.example.com.evil.org", patterns)
    assert not origin_allowed("null", patterns)
    assert not origin_allowed(None, patterns)
    # Malformed: refused, not an error page or a dropped socket.
    assert not origin_allowed("http://[::1", patterns)
    assert not origin_allowed("http://localhost:99999", patterns)
    with pytest.raises(ValueError, match=r"\[::1"):
        origin_patterns_parse("http://[::1")


def test_a_bad_origin_line_is_named():
    with pytest.raises(ValueError, match=r"shop\.example\.com/path"):
        origin_patterns_parse("https://shop.example.com/path")


@pytest.mark.django_db
def test_site_validation_rejects_bad_origins_and_colours():
    site = Site(name="S", allowed_origins="ftp://x", theme_color="blue")
    with pytest.raises(ValidationError) as error:
        site.full_clean()
    assert set(error.value.message_dict) == {"allowed_origins", "theme_color"}


@pytest.mark.django_db
def test_business_hours_are_read_in_the_sites_time_zone(site):
    site.time_zone = "Asia/Shanghai"
    site.save()
    # Monday 09:00–18:00 Beijing time.
    BusinessHours.objects.create(site=site, weekday=0, opens=dt.time(9), closes=dt.time(18))
    monday_10_beijing = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    monday_20_beijing = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    sunday_10_beijing = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
    assert site_is_open(site=site, at=monday_10_beijing)
    assert not site_is_open(site=site, at=monday_20_beijing)
    assert not site_is_open(site=site, at=sunday_10_beijing)


@pytest.mark.django_db
def test_a_site_without_hours_is_always_open(site):
    assert site_is_open(site=site, at=dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "says"),
    [("en", "For hours past midnight, close at 00:00"), ("zh-hans", "营业跨过午夜时")],
)
def test_hours_past_midnight_are_refused_saying_how_to_enter_them(site, language, says):
    overnight = BusinessHours(site=site, weekday=0, opens=dt.time(22), closes=dt.time(2))
    with translation.override(language), pytest.raises(ValidationError) as refused:
        overnight.full_clean()
    assert says in " ".join(refused.value.messages)
    assert "business_hours_closes_after_opens" not in " ".join(refused.value.messages)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "says"),
    [("en", "Not an origin: “127.0.0.1:8098”."), ("zh-hans", "“127.0.0.1:8098”不是有效的来源")],
)
def test_a_line_that_is_not_an_origin_is_named_in_the_admins_language(site, language, says):
    site.allowed_origins = "https://shop.example.com\n127.0.0.1:8098"
    with translation.override(language), pytest.raises(ValidationError) as refused:
        site.full_clean()
    assert refused.value.message_dict["allowed_origins"][0].startswith(says)


@pytest.mark.django_db
def test_hours_may_close_at_midnight(site):
    site.time_zone = "UTC"
    site.save()
    BusinessHours(site=site, weekday=0, opens=dt.time(18), closes=dt.time(0)).full_clean()
    BusinessHours.objects.create(site=site, weekday=0, opens=dt.time(18), closes=dt.time(0))
    monday = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    assert site_is_open(site=site, at=monday.replace(hour=23, minute=59))
    assert not site_is_open(site=site, at=monday.replace(hour=17, minute=59))
    assert not site_is_open(site=site, at=monday + dt.timedelta(days=1, minutes=1))
