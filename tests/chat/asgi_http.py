"""One HTTP request through the real ASGI application, as a server would make it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from csbot.asgi import application

Receive = Callable[[], Awaitable[dict]]


async def body_done() -> dict:
    """What ``receive`` does once the body is sent: the client waits for the answer."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def asgi_request(
    method: str, path: str, receive: Receive, *, query: str = "", headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """The answer's status, headers (lower-case names) and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"testserver"),
            *((key.encode(), value.encode()) for key, value in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)
    start, *body = sent
    response_headers = {key.decode().lower(): value.decode() for key, value in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in body)
