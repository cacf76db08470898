from __future__ import annotations

from django.urls import path

from apps.handoff import views

app_name = "handoff"
urlpatterns = [path("", views.console, name="console")]
