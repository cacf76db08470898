from __future__ import annotations

from django.urls import path

from apps.chat import views

app_name = "chat"
urlpatterns = [
    path("api/widget/<str:site_key>/session", views.widget_session, name="widget-session")
]
