"""Request checks every view would otherwise repeat."""

from __future__ import annotations

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
