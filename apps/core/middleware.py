"""Request checks every view would otherwise repeat."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RefuseNulMiddleware:
    """Answer 400 to an address holding a NUL character (``%00``).

    No page, key or filter has one, and PostgreSQL refuses NUL in text, so it would reach the
    database as an error: a 500 on the KB pages and the admin's filters, a 503 "retry" from the
    widget's session endpoint. Form fields refuse NUL on their own (Django's validators).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.GET
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query
        ):
            return HttpResponseBadRequest("NUL characters are not allowed in an address")
        return self.get_response(request)


# A year filter as the admin's date filters and date hierarchy put it in the address.
_YEAR_FILTER = re.compile(r"__(?:iso_)?year(?:__(?:exact|gt|gte|lt|lte))?$")


class RefuseImpossibleYearMiddleware:
    """Answer 400 to a ``…__year`` filter outside 1–9999 (``?created_at__year=99999``).

    Django turns a year filter into the bounds of that year as datetimes before asking the
    database, and a year no datetime can hold raises ValueError there: a 500 on every admin
    list with a date filter or hierarchy. Years that are not numbers Django refuses itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key in request.GET:
            if not _YEAR_FILTER.search(key):
                continue
            for value in request.GET.getlist(key):
                digits = value.strip().removeprefix("-")
                if digits.isdecimal() and not 1 <= int(value) <= 9999:
                    return HttpResponseBadRequest("a year is between 1 and 9999")
        return self.get_response(request)
