"""ASGI: an upload's body is refused past the size limit before Django has received it.

Django's ASGI handler reads a request's whole body (spooled to disk past 2.5 MB) before any
view runs, so the views' own 413 came after the bytes had been received and stored. This
wrapper, for the two upload routes only, answers 413 at once when ``Content-Length`` declares
too much, and stops reading a chunked or undeclared body as soon as it passes the limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import Resolver404, resolve

from apps.chat.attachments import FORM_OVERHEAD, file_too_large
from apps.chat.http import cors_allow, error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Only the widget's answer carries CORS headers: its page is on another origin.
_UPLOAD_ROUTES = {"chat:widget-attachment": True, "chat:console-attachment": False}


def _upload_route(scope: Scope) -> bool | None:
    """Whether the upload route ``scope`` asks for answers with CORS; ``None`` if it is none."""
    if scope["type"] != "http" or scope.get("method") != "POST":
        return None
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return _UPLOAD_ROUTES.get(match.view_name)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class UploadSizeLimit:
    """Wrap Django's ASGI application; refuse an upload body over the limit with the view's
    own ``file_too_large`` JSON (and, for the widget, its CORS headers so the page can read
    it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cors = _upload_route(scope)
        if cors is None:
            await self.app(scope, receive, send)
            return
        limit = settings.CSBOT_ATTACHMENT_MAX_BYTES + FORM_OVERHEAD
        try:
            declared = int(_header(scope, b"content-length") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            await self._refuse(scope, send, cors=cors)
            return
        received = 0
        over = False

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django's read_body stops at a disconnect and answers nothing: we do.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited_receive, send)
        if over:
            await self._refuse(scope, send, cors=cors)

    async def _refuse(self, scope: Scope, send: Send, *, cors: bool) -> None:
        refusal = file_too_large()
        response: HttpResponse = error_response(refusal.status, refusal.code, refusal.message)
        origin = _header(scope, b"origin")
        if cors and origin:
            response = cors_allow(response, origin)
        # The rest of the body is never read: the server must not keep the connection.
        response["Connection"] = "close"
        response["Content-Length"] = str(len(response.content))
        headers = [
            (key.encode("latin-1"), value.encode("latin-1")) for key, value in response.items()
        ]
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": response.content})
