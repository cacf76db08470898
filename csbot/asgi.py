"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from apps.chat.asgi_limits import UploadSizeLimit  # noqa: E402
from apps.chat.routing import websocket_urlpatterns as visitor_websockets  # noqa: E402
from apps.handoff.routing import websocket_urlpatterns as console_websockets  # noqa: E402
from csbot.lifespan import lifespan  # noqa: E402

application = ProtocolTypeRouter(
    {
        # An upload's body is refused past the size limit before Django has received it.
        "http": UploadSizeLimit(
            ASGIStaticFilesHandler(django_asgi_app)
            if settings.CSBOT_SERVE_STATIC
            else django_asgi_app
        ),
        # Channels does not handle lifespan itself: the workers' background sweep starts here.
        "lifespan": lifespan,
        "websocket": URLRouter(
            [
                # Visitors come from the site owners' pages: the consumer checks Origin per site
                # (close 4403) and identifies them by token, not by cookie.
                *visitor_websockets,
                # Agents use the console on this host, signed in with the Django session.
                path(
                    "ws/console/",
                    AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(console_websockets))),
                ),
            ]
        ),
    }
)
