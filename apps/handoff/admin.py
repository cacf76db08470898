from __future__ import annotations

from django.contrib import admin

from apps.handoff.models import (
    AgentProfile,
    CannedReply,
    HandoffSettings,
    Team,
    Ticket,
    TicketNote,
    Webhook,
    WebhookDelivery,
)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "site"]
    list_filter = ["site"]
    filter_horizontal = ["members"]


@admin.register(HandoffSettings)
class HandoffSettingsAdmin(admin.ModelAdmin):
    list_display = ["site", "assignment", "first_response_minutes", "resolution_minutes"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "availability", "capacity", "last_assigned_at"]
    readonly_fields = ["last_assigned_at"]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "language", "site"]
    list_filter = ["site", "language"]
    search_fields = ["shortcut", "title", "text"]


class TicketNoteInline(admin.TabularInline):
    model = TicketNote
    extra = 0
    fields = ["author", "text", "created_at"]
    readonly_fields = ["author", "text", "created_at"]
    can_delete = False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-mostly: tickets change hands in the console, where every change is recorded."""

    list_display = ["__str__", "site", "status", "priority", "reason", "team", "assignee"]
    list_filter = ["status", "priority", "reason", "channel", "site", "team"]
    search_fields = ["subject", "contact_email", "contact_name"]
    readonly_fields = [
        field.name for field in Ticket._meta.fields if field.name not in {"priority", "tags"}
    ]
    inlines = [TicketNoteInline]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "site", "on_ticket_created", "on_ticket_solved", "is_active"]
    list_filter = ["site", "is_active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "webhook", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
