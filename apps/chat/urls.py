from __future__ import annotations

from django.urls import path

from apps.chat import attachment_views, views

app_name = "chat"
urlpatterns = [
    path("api/widget/<str:site_key>/session", views.widget_session, name="widget-session"),
    path(
        "api/widget/<str:site_key>/attachments",
        attachment_views.widget_attachment,
        name="widget-attachment",
    ),
    path(
        "api/console/tickets/<int:ticket_id>/attachments",
        attachment_views.console_attachment,
        name="console-attachment",
    ),
    path(
        "api/attachments/<int:attachment_id>", attachment_views.attachment_file, name="attachment"
    ),
]
