"""HTTP endpoints the widget calls before it opens its socket."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.chat.http import client_ip, cors_allow, error_response
from apps.chat.selectors import visitor_get, visitor_language
from apps.chat.services import visitor_create
from apps.chat.tokens import visitor_token_issue, visitor_token_read
from apps.core.lib.jsontext import json_parse
from apps.core.ratelimit import rate_limit_hit
from apps.sites.models import Site
from apps.sites.selectors import (
    site_get_by_key,
    site_greeting,
    site_is_open,
    site_origin_allowed,
)

_MAX_BODY_BYTES = 4096
# A browser's navigator.language, short enough for Visitor.language (16 characters).
_LANGUAGE_TAG = re.compile(r"(?=.{2,16}$)[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8}){0,3}")

logger = logging.getLogger(__name__)


# No cookie is read or set here: the visitor token travels in the body and the Origin check
# below is what keeps other sites out, so Django's cookie-based CSRF check does not apply.
@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def widget_session(request: HttpRequest, site_key: str) -> HttpResponse:
    """The widget's first call, answered so that the page's script can read every answer.

    Refusals carry CORS headers for the page's origin too: without them the browser hides a
    403 or 404 behind a network error, and the widget on a page its site does not allow retried
    for ever instead of saying why. They say nothing a plain HTTP client would not learn; only
    an allowed origin gets a token (``_session``). A preflight carries nothing, so any origin
    gets one. A database that cannot answer is a JSON 503, not an error page.
    """
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        response: HttpResponse = HttpResponse(status=204)
    else:
        try:
            response = _session(request, site_key, origin)
        except DatabaseError:
            logger.exception("database unavailable while starting a widget session")
            response = error_response(
                503, "unavailable", "the chat cannot start right now; retry in a moment"
            )
    return cors_allow(response, origin) if origin else response


def _session(request: HttpRequest, site_key: str, origin: str | None) -> HttpResponse:
    """Check the page's origin, then return the site's widget settings and a visitor token.

    A valid token in the body is returned as it is (the same visitor, the same history);
    otherwise a new visitor is created.
    """
    site = site_get_by_key(public_key=site_key)
    if site is None:
        return error_response(404, "unknown_site", "no site has this key")
    if not site_origin_allowed(site=site, origin=origin):
        return error_response(
            403, "origin_not_allowed", "this page's origin is not allowed for the site"
        )
    if len(request.body) > _MAX_BODY_BYTES:
        return error_response(413, "too_large", "the request body is too large")
    try:
        body = json_parse(request.body.decode() or "{}")
    except ValueError as exc:
        return error_response(400, "bad_json", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return error_response(400, "bad_json", "the body must be a JSON object")

    token = body.get("token") if isinstance(body.get("token"), str) else ""
    claim = visitor_token_read(token) if token else None
    visitor = None
    if claim is not None and claim.site_key == site.public_key:
        visitor = visitor_get(public_id=claim.visitor_public_id, site_id=site.pk)
    if visitor is None:
        if not rate_limit_hit(
            scope="visitor-tokens",
            key=client_ip(request),
            limit=settings.CSBOT_TOKENS_PER_MINUTE_PER_IP,
            window_seconds=60,
        ):
            return error_response(429, "rate_limited", "too many new visitors from this address")
        language = body.get("language")
        if not isinstance(language, str) or not _LANGUAGE_TAG.fullmatch(language):
            language = ""  # what the browser's navigator.language would be, or nothing
        visitor = visitor_create(site=site, language=language)
        token = visitor_token_issue(
            visitor_public_id=str(visitor.public_id), site_key=site.public_key
        )

    return JsonResponse(
        {
            "token": token,
            "visitor_id": str(visitor.public_id),
            "site": {
                "name": site.name,
                "greeting": site_greeting(site=site, language=visitor_language(visitor=visitor)),
                "theme_color": site.theme_color,
                "default_language": site.default_language,
                "open": site_is_open(site=site, at=timezone.now()),
            },
            # A visitor who gave an email (the form, or the page's identify()) is not asked again.
            "prechat": Site.Prechat.OFF if visitor.email else site.prechat,
            "socket_path": f"/ws/chat/?site={site.public_key}",
            # Checked by the widget before it uploads a file, and again by the server.
            "attachment_max_bytes": settings.CSBOT_ATTACHMENT_MAX_BYTES,
        }
    )
