"""Console websockets, mounted under ``ws/console/`` by csbot/asgi.py (paths are relative to it)."""

from __future__ import annotations

from django.urls import path

from apps.handoff.consumers import ConsoleConsumer

websocket_urlpatterns = [path("", ConsoleConsumer.as_asgi())]
