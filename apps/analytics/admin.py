from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.analytics.models import AnswerFeedback, CsatResponse, OutcomeSettings


@admin.register(OutcomeSettings)
class OutcomeSettingsAdmin(admin.ModelAdmin):
    list_display = ["site", "reopen_window_hours", "csat_enabled"]


class _VisitorSaidAdmin(admin.ModelAdmin):
    """Read-only: what visitors said is a record, not something staff edit."""

    list_filter = ["site", "created_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AnswerFeedback)
class AnswerFeedbackAdmin(_VisitorSaidAdmin):
    list_display = ["created_at", "site", "conversation", "value", "comment"]
    list_filter = ["value", *_VisitorSaidAdmin.list_filter]
    list_select_related = ["site", "conversation__visitor"]
    search_fields = ["comment", "message__text"]


@admin.register(CsatResponse)
class CsatResponseAdmin(_VisitorSaidAdmin):
    list_display = ["created_at", "site", "ticket", "rating", "comment"]
    list_filter = ["rating", *_VisitorSaidAdmin.list_filter]
    list_select_related = ["site", "ticket"]
    search_fields = ["comment"]
