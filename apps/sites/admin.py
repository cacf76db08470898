from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import escape

from apps.sites.models import BusinessHours, Site


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    """Sites as their owners set them up. Deleting one cascades into chat's rows, so
    ``apps/chat/admin.py`` registers this again with chat's delete: sites, below chat, does not
    import it."""

    list_display = ["name", "public_key", "default_language", "created_at"]
    search_fields = ["name", "public_key"]
    readonly_fields = ["created_at"]
    inlines = [BusinessHoursInline]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        *args: Any,
        obj: Site | None = None,
        **kwargs: Any,
    ) -> Any:
        if obj is not None and obj.pk:
            # Where this server serves the widget, as the site owner's pages must load it.
            context["embed_snippet"] = embed_snippet(
                src=request.build_absolute_uri(static("csbot/widget.js")), site=obj
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


def embed_snippet(*, src: str, site: Site) -> str:
    """The script tag a site owner pastes into their pages (README, *Embed the widget*).

    Plain text, its attributes escaped: the change form shows it in a textarea, escaped again.
    """
    return f'<script src="{escape(src)}" data-site="{escape(site.public_key)}" async></script>'
