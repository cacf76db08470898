from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from apps.chat.models import Attachment, Conversation, ConversationEvent, Message, Visitor
from apps.chat.privacy import rows_delete, visitor_erase, visitor_export
from apps.handoff.details import ENGLISH as HANDOFF_DETAILS
from apps.handoff.models import Ticket
from apps.handoff.selectors import user_opens_attachments
from apps.sites.admin import SiteAdmin as SiteSetupAdmin
from apps.sites.models import Site


class AttachmentFilesDeleteMixin:
    """The admin's delete (one row or the changelist action) does what erasure does
    (``rows_delete``): once it commits, the attachment files it cascades to are removed, and the
    chats on the conversations it cascades to end (the visitor's sockets close, their tickets
    leave the agents' consoles); for every admin whose model's delete reaches ``Attachment``."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        rows_delete(rows=type(obj)._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        rows_delete(rows=queryset)


# Registered again in place: chat builds on sites (the import above registered it first).
admin.site.unregister(Site)


@admin.register(Site)
class SiteAdmin(AttachmentFilesDeleteMixin, SiteSetupAdmin):
    """The site admin, whose delete also removes the files and ends the chats it cascades to."""


class MessageInline(admin.TabularInline):
    model = Message
    fields = [
        "seq",
        "author_kind",
        "author",
        "text",
        "attachment_link",
        "citations",
        "state",
        "created_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("author", "attachment")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        shown = self._attachment_field(request)
        return [shown if field == "attachment_link" else field for field in self.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj)

    @staticmethod
    def _attachment_field(request: HttpRequest) -> str:
        # Staff who may only read messages see the file's name, not a link that would be a 404.
        opens = user_opens_attachments(user=request.user)
        return "attachment_link" if opens else "attachment_named"

    @admin.display(description=_("attachment"))
    def attachment_link(self, obj: Message) -> str:
        """The file's name (escaped), linking to the checked view that serves it."""
        attachment = _attachment_of(obj)
        if attachment is None:
            return "—"
        url = reverse("chat:attachment", args=[attachment.pk])
        return format_html('<a href="{}">{}</a> ({})', url, attachment.name, attachment.size)

    @admin.display(description=_("attachment"))
    def attachment_named(self, obj: Message) -> str:
        """The file's name (escaped) and size, for staff the file view does not serve."""
        attachment = _attachment_of(obj)
        if attachment is None:
            return "—"
        return format_html("{} ({})", attachment.name, attachment.size)


def _attachment_of(message: Message) -> Attachment | None:
    try:
        return message.attachment
    except Attachment.DoesNotExist:
        return None


# The keys of ConversationEvent.data (apps/handoff/services), in the order shown.
_EVENT_KEYS = {
    "reason": _("reason"),
    "detail": _("detail"),
    "by": pgettext_lazy("conversation event", "by"),
    "why": _("why"),
    "ticket": _("ticket"),
    "team": _("team"),
    "from_team": _("from team"),
    "agent": _("agent"),
    "via": _("via"),
    "faq": _("FAQ entry"),
    "message": _("message"),
}
# Shown through the detail's text; the rest of data is ids and codes.
_EVENT_KEYS_HIDDEN = {"detail_code", "detail_values"}
_EVENT_VALUES = {
    "by": {
        "visitor": _("the visitor"),
        "bot": _("the bot"),
        "agent": _("an agent"),
        "system": _("csbot"),
    },
    "why": {
        "nobody_online": _("nobody online"),
        "outside_hours": _("outside opening hours"),
    },
}


def event_data_lines(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Return an event's data as (label, value) pairs in the admin's language."""
    known = [key for key in _EVENT_KEYS if key in data]
    others = [key for key in data if key not in _EVENT_KEYS and key not in _EVENT_KEYS_HIDDEN]
    lines = []
    for key in [*known, *others]:
        value = data[key]
        if key == "reason" and value in Ticket.Reason.values:
            shown = str(Ticket.Reason(value).label)
        elif key == "detail" and data.get("detail_code") in HANDOFF_DETAILS:
            # The same sentences as details.py, each appended to the catalog in brace format.
            template = gettext(HANDOFF_DETAILS[data["detail_code"]])
            shown = template.format_map(data.get("detail_values") or {})
        else:
            shown = str(_EVENT_VALUES.get(key, {}).get(value, value))
        lines.append((str(_EVENT_KEYS.get(key, key)), shown))
    return lines


class ConversationEventInline(admin.TabularInline):
    model = ConversationEvent
    fields = ["created_at", "kind", "actor", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    @admin.display(description=_("details"))
    def details(self, obj: ConversationEvent) -> str:
        lines = (
            (gettext("%(label)s: %(value)s") % {"label": label, "value": value},)
            for label, value in event_data_lines(obj.data)
        )
        return format_html_join("", "<div>{}</div>", lines) or "—"


@admin.register(Conversation)
class ConversationAdmin(AttachmentFilesDeleteMixin, admin.ModelAdmin):
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

    # Conversations are made and moved by the services (seq, status, publishing to sockets);
    # one added or edited here would bypass them. The admin reads them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        results, _ = super().get_search_results(request, queryset, search_term)
        # Searching message text joins many rows per conversation.
        return results, True


@admin.register(Message)
class MessageAdmin(AttachmentFilesDeleteMixin, admin.ModelAdmin):
    list_display = ["conversation", "seq", "author_kind", "state", "created_at"]
    list_filter = ["author_kind", "state"]
    search_fields = ["text"]
    raw_id_fields = ["conversation", "author"]
    readonly_fields = ["created_at", "updated_at"]

    # A message's seq, streaming state and delivery belong to the services: read-only here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Visitor)
class VisitorAdmin(AttachmentFilesDeleteMixin, admin.ModelAdmin):
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
    readonly_fields = ["public_id", "created_at", "last_seen_at", "page_url", "page_title"]
    actions = ["export_data", "erase_data"]

    # A visitor is created by the widget's session (a signed token it keeps); one added here has
    # no browser. Their name and email stay editable: an agent may correct them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Export the selected visitors' data (JSON)"))
    def export_data(self, request: HttpRequest, queryset) -> HttpResponse:  # type: ignore[no-untyped-def]
        exported = [visitor_export(visitor=visitor) for visitor in queryset.select_related("site")]
        response = HttpResponse(
            json.dumps(exported, ensure_ascii=False, indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = 'attachment; filename="visitors.json"'
        return response

    @admin.action(description=_("Erase the selected visitors and all their conversations"))
    def erase_data(self, request: HttpRequest, queryset) -> TemplateResponse | None:  # type: ignore[no-untyped-def]
        """Ask first (it cannot be undone), with what would go; erase on the confirmation."""
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/chat/visitor/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Erase visitors"),
                    "opts": self.model._meta,
                    "visitors": list(queryset.select_related("site")),
                    # Counts named apart from the admin's own context: "messages" is the
                    # messages framework's list, which the base template loops over.
                    "conversation_count": Conversation.objects.filter(visitor__in=queryset).count(),
                    "message_count": Message.objects.filter(
                        conversation__visitor__in=queryset
                    ).count(),
                    "ticket_count": Ticket.objects.filter(visitor__in=queryset).count(),
                    "open_ticket_count": Ticket.objects.filter(
                        visitor__in=queryset, status__in=Ticket.ACTIVE
                    ).count(),
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        erased = 0
        for visitor in queryset:
            visitor_erase(visitor=visitor)
            erased += 1
        self.message_user(request, _("%(n)d visitor(s) erased.") % {"n": erased}, messages.SUCCESS)
        return None
