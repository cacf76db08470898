"""Open the visitor's and the agent's sockets on the real ASGI application, and read frames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from csbot.asgi import application
from tests.conftest import SITE_ORIGIN, token_for

CONSOLE_ORIGIN = "http://localhost"


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def console_communicator(cookie: str | None, origin: str = CONSOLE_ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/console/", headers=headers)


async def console_socket(user: Any) -> tuple[WebsocketCommunicator, dict]:
    """An agent's console, signed in, after its ``ready`` frame."""
    ws = console_communicator(await database_sync_to_async(session_cookie)(user))
    connected, _ = await ws.connect()
    assert connected
    ready = await ws.receive_json_from(timeout=5)
    assert ready["type"] == "ready", ready
    return ws, ready


async def visitor_socket(visitor: Any) -> tuple[WebsocketCommunicator, dict]:
    """A visitor's widget socket after ``hello``/``ready``."""
    ws = WebsocketCommunicator(
        application,
        f"/ws/chat/?site={visitor.site.public_key}",
        headers=[(b"origin", SITE_ORIGIN.encode())],
    )
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
    ready = await ws.receive_json_from(timeout=5)
    assert ready["type"] == "ready", ready
    return ws, ready


async def frames_until(
    ws: WebsocketCommunicator, predicate: Callable[[dict], bool] | str
) -> list[dict]:
    """Every frame up to and including the first that matches (a type, or a predicate)."""
    if isinstance(predicate, str):
        wanted = predicate
        predicate = lambda frame: frame["type"] == wanted  # noqa: E731
    frames = []
    while True:
        frame = await ws.receive_json_from(timeout=5)
        frames.append(frame)
        if predicate(frame):
            return frames


async def frames_with(ws: WebsocketCommunicator, *types: str) -> list[dict]:
    """Every frame until each of ``types`` has arrived at least once, in any order."""
    missing = set(types)
    frames = []
    while missing:
        frame = await ws.receive_json_from(timeout=5)
        frames.append(frame)
        missing.discard(frame["type"])
    return frames


async def frame_of(ws: WebsocketCommunicator, predicate: Callable[[dict], bool] | str) -> dict:
    return (await frames_until(ws, predicate))[-1]


def system_texts(frames: list[dict]) -> list[str]:
    return [
        f["message"]["text"]
        for f in frames
        if f["type"] == "message.new" and f["message"]["author"] == "system"
    ]
