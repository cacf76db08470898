from __future__ import annotations

from django.contrib import admin

from apps.chat.models import Conversation, ConversationEvent, Message, Visitor


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["seq", "author_kind", "author", "text", "citations", "state", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class ConversationEventInline(admin.TabularInline):
    model = ConversationEvent
    fields = ["created_at", "kind", "actor", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "site", "visitor", "status", "language", "created_at", "updated_at"]
    list_filter = ["status", "site", "language"]
    search_fields = ["visitor__name", "visitor__email", "visitor__external_id", "messages__text"]
    list_select_related = ["site", "visitor"]
    readonly_fields = [
        "site",
        "visitor",
        "status",
        "last_seq",
        "created_at",
        "updated_at",
        "closed_at",
    ]
    inlines = [MessageInline, ConversationEventInline]
    date_hierarchy = "created_at"

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        results, _ = super().get_search_results(request, queryset, search_term)
        # Searching message text joins many rows per conversation.
        return results, True


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq", "author_kind", "state", "created_at"]
    list_filter = ["author_kind", "state"]
    search_fields = ["text"]
    raw_id_fields = ["conversation", "author"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "site",
        "email",
        "external_id",
        "language",
        "created_at",
        "last_seen_at",
    ]
    list_filter = ["site"]
    search_fields = ["name", "email", "external_id", "public_id"]
    readonly_fields = ["public_id", "created_at", "last_seen_at"]
