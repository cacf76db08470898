from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.sites.selectors import site_get_by_key

DEMO_SITE_KEY = "site_demo"


def demo_shop(request: HttpRequest) -> HttpResponse:
    """A fictional shop's page that embeds the widget the way any customer site would."""
    site = site_get_by_key(public_key=DEMO_SITE_KEY)
    return render(request, "demo/shop.html", {"site": site})
