from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

from apps.sites.selectors import site_get_by_key

DEMO_SITE_KEY = "site_demo"


def demo_shop(request: HttpRequest) -> HttpResponse:
    """A fictional shop's page that embeds the widget the way any customer site would."""
    site = site_get_by_key(public_key=DEMO_SITE_KEY)
    return render(request, "demo/shop.html", {"site": site})


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask every page's host for /favicon.ico, the admin's pages included."""
    return HttpResponseRedirect(static("csbot/favicon.svg"))


def health(request: HttpRequest) -> JsonResponse:
    """Answer load balancers and process managers: 200 when the database answers, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"ok": False, "database": "unavailable"}, status=503)
    return JsonResponse({"ok": True})
