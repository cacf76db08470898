from __future__ import annotations

from django.urls import path

from apps.knowledge import views

app_name = "knowledge"

urlpatterns = [
    path("kb/<str:collection>/<int:article_id>/", views.article_page, name="article"),
    path("kb/<str:collection>/faq/<int:faq_id>/", views.faq_page, name="faq"),
]
