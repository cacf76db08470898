"""demo_setup: each origin once, and the greeting in the visitor's language."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.core.views import DEMO_SITE_KEY
from apps.sites.models import Site

pytestmark = pytest.mark.django_db


def demo_site(*args: str) -> Site:
    call_command("demo_setup", *args, stdout=io.StringIO())
    return Site.objects.get(public_key=DEMO_SITE_KEY)


def test_a_loopback_host_is_allowed_once():
    site = demo_site("--host", "127.0.0.1:8123")

    assert site.allowed_origins.splitlines() == [
        "http://127.0.0.1:8123",
        "http://localhost:8123",
    ]


def test_another_host_is_allowed_with_both_loopback_names():
    site = demo_site("--host", "shop.test:8000")

    assert site.allowed_origins.splitlines() == [
        "http://shop.test:8000",
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    ]


def test_the_greeting_is_chinese_and_the_other_greeting_english():
    site = demo_site()

    assert site.greeting.startswith("你好！")
    assert "Hi!" not in site.greeting
    assert site.greeting_other.startswith("Hi! I'm the Lumen & Co. assistant.")
