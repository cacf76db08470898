from __future__ import annotations

from django.urls import path

from apps.chat.consumers import VisitorChatConsumer

websocket_urlpatterns = [path("ws/chat/", VisitorChatConsumer.as_asgi())]
