from __future__ import annotations

from django.urls import path

from apps.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.insights, name="insights"),
    path("export.csv", views.export, name="export"),
]
