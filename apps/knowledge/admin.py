"""The knowledge base in Django admin: content, search tuning, imports and the test-search page.

Every write goes through ``services`` so that passages, versions and search indexes follow.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.knowledge import admin_views
from apps.knowledge.models import (
    Article,
    Collection,
    DictionaryWord,
    FAQEntry,
    ImportJob,
    Passage,
    ProtectedPattern,
    Status,
    SynonymGroup,
)
from apps.knowledge.rendering import markdown_render
from apps.knowledge.services.content import (
    collection_reindex,
    entries_delete,
    entries_set_status,
    entry_save,
)
from apps.knowledge.services.tuning import tuning_delete, tuning_save


class _DerivedPassagesMixin:
    """Passages are derived: they go with their entry or collection, though nobody edits them."""

    def get_deleted_objects(self, objs, request: HttpRequest):  # type: ignore[no-untyped-def]
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        perms_needed.discard(Passage._meta.verbose_name)
        return deleted, counts, perms_needed, protected


@admin.register(Collection)
class CollectionAdmin(_DerivedPassagesMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "article_count", "faq_count", "version", "search_link"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["sites"]
    readonly_fields = ["version", "created_at"]
    actions = ["reindex"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collection]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                article_total=Count("articles", distinct=True),
                faq_total=Count("faqs", distinct=True),
            )
        )

    def get_urls(self):  # type: ignore[no-untyped-def]
        view = self.admin_site.admin_view
        return [
            path("test-search/", view(admin_views.test_search), name="knowledge_test_search"),
            path("import/", view(admin_views.import_upload), name="knowledge_import"),
            path(
                "import/<int:job_id>/",
                view(admin_views.import_progress),
                name="knowledge_import_progress",
            ),
            path(
                "import/<int:job_id>/review/",
                view(admin_views.import_review),
                name="knowledge_import_review",
            ),
            path("preview/", view(admin_views.markdown_preview), name="knowledge_preview"),
            *super().get_urls(),
        ]

    @admin.display(description=_("articles"), ordering="article_total")
    def article_count(self, obj: Collection) -> int:
        return obj.article_total  # type: ignore[attr-defined]

    @admin.display(description=_("FAQ entries"), ordering="faq_total")
    def faq_count(self, obj: Collection) -> int:
        return obj.faq_total  # type: ignore[attr-defined]

    @admin.display(description=_("test search"))
    def search_link(self, obj: Collection) -> str:
        url = reverse("admin:knowledge_test_search") + f"?collections={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Test search"))

    @admin.action(description=_("Re-index the selected collections"))
    def reindex(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        total = sum(collection_reindex(collection=c) for c in queryset)
        self.message_user(request, _("%(count)d passages re-indexed.") % {"count": total})


class _EntryAdmin(_DerivedPassagesMixin, admin.ModelAdmin):
    """What articles and FAQ entries share: status actions, service-backed save and delete."""

    list_filter = ["status", "language", "collection"]
    list_select_related = ["collection"]
    readonly_fields = ["preview", "created_at", "updated_at"]
    actions = ["publish", "archive", "unpublish"]
    save_on_top = True
    preview_source = ""
    change_form_template = "admin/knowledge/entry_change_form.html"

    @admin.display(description=_("preview"))
    def preview(self, obj: Article | FAQEntry) -> str:
        return markdown_render(getattr(obj, self.preview_source) or "")

    def save_model(
        self, request: HttpRequest, obj: Article | FAQEntry, form: object, change: bool
    ) -> None:
        entry_save(entry=obj)

    def delete_model(self, request: HttpRequest, obj: Article | FAQEntry) -> None:
        entries_delete(entries=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        entries_delete(entries=list(queryset))

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        changed = entries_set_status(entries=queryset, status=status)
        label = Status(status).label
        self.message_user(
            request,
            ngettext(
                "%(count)d entry is now %(status)s.",
                "%(count)d entries are now %(status)s.",
                changed,
            )
            % {"count": changed, "status": label},
            messages.SUCCESS,
        )

    @admin.action(description=_("Publish the selected entries"))
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, Status.PUBLISHED)

    @admin.action(description=_("Archive the selected entries"))
    def archive(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, Status.ARCHIVED)

    @admin.action(description=_("Turn the selected entries back into drafts"))
    def unpublish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, Status.DRAFT)


@admin.register(Article)
class ArticleAdmin(_EntryAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["title", "collection", "language", "status", "external_id", "updated_at"]
    search_fields = ["title", "body", "external_id", "tags", "source"]
    preview_source = "body"
    fieldsets = [
        (None, {"fields": ["collection", "title", "body", "preview"]}),
        (_("Publishing"), {"fields": ["status", "language", "tags", "source_url"]}),
        (_("Origin"), {"fields": ["external_id", "source", "created_at", "updated_at"]}),
    ]


@admin.register(FAQEntry)
class FAQEntryAdmin(_EntryAdmin):
    list_display = ["question", "collection", "language", "status", "external_id", "updated_at"]
    search_fields = ["question", "alternatives", "answer", "external_id", "tags"]
    preview_source = "answer"
    fieldsets = [
        (None, {"fields": ["collection", "question", "alternatives", "answer", "preview"]}),
        (_("Publishing"), {"fields": ["status", "language", "tags"]}),
        (_("Origin"), {"fields": ["external_id", "source", "created_at", "updated_at"]}),
    ]


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    """Read-only: passages are derived from articles and FAQ entries."""

    list_display = ["__str__", "collection", "language", "position", "revision", "has_vector"]
    list_filter = ["collection", "language"]
    search_fields = ["title", "text"]
    list_select_related = ["collection"]
    fields = [
        "collection",
        "article",
        "faq",
        "title",
        "heading_path",
        "position",
        "text",
        "tokens",
        "revision",
        "embedding_model",
    ]

    @admin.display(boolean=True, description=_("vector"))
    def has_vector(self, obj: Passage) -> bool:
        return bool(obj.embedding_model)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Passage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Passage | None = None) -> bool:
        return False


class _TuningAdmin(admin.ModelAdmin):
    """Dictionary, synonyms and patterns: saved through the service that re-analyzes passages."""

    def save_model(self, request: HttpRequest, obj, form: object, change: bool) -> None:  # type: ignore[no-untyped-def]
        tuning_save(obj=obj)
        self.message_user(request, _("Search tuning updated; it applies to the next search."))

    def delete_model(self, request: HttpRequest, obj) -> None:  # type: ignore[no-untyped-def]
        tuning_delete(obj=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            tuning_delete(obj=obj)


@admin.register(DictionaryWord)
class DictionaryWordAdmin(_TuningAdmin):
    list_display = ["word", "frequency", "note", "created_at"]
    search_fields = ["word", "note"]


@admin.register(SynonymGroup)
class SynonymGroupAdmin(_TuningAdmin):
    list_display = ["__str__", "created_at"]
    search_fields = ["terms"]


@admin.register(ProtectedPattern)
class ProtectedPatternAdmin(_TuningAdmin):
    list_display = ["name", "pattern", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "pattern"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["file_name", "collection", "format", "state", "done", "total", "created_at"]
    list_filter = ["state", "collection"]
    # Not the uploaded file a replace import keeps while it awaits confirmation (up to 50 MB).
    exclude = ["data"]
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "data"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False
