from __future__ import annotations

from django.contrib import admin

from apps.sites.models import BusinessHours, Site


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "public_key", "default_language", "created_at"]
    search_fields = ["name", "public_key"]
    readonly_fields = ["created_at"]
    inlines = [BusinessHoursInline]
