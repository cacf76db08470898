"""What the widget's HTTP endpoints answer with: JSON errors, CORS headers, the client's address.

Shared by the session endpoint (``views``), the uploads (``attachment_views``) and the upload
size limit in front of Django (``asgi_limits``), so a refusal reads the same from each.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """``{"error": {"code", "message"}}`` with ``status`` (docs/protocol.md)."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def cors_allow(response: HttpResponse, origin: str) -> HttpResponse:
    """Let the page at ``origin`` read ``response`` (the widget's page is on another origin)."""
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def client_ip(request: HttpRequest) -> str:
    """The address the request came from, as the per-address rate limits count it."""
    return request.META.get("REMOTE_ADDR", "")
