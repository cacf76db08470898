"""Console websockets, mounted under ``ws/console/`` by csbot/asgi.py (paths are relative to it)."""

from __future__ import annotations

websocket_urlpatterns: list = []
