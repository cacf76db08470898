# Django's admin classes are generic only in django-stubs, not at runtime.
# mypy: disable-error-code="type-arg"
"""Admin: bot settings, the sensitive-term list, guard events, each answer's audit, answer checks.

The audit is also shown on the conversation's own page: the conversation admin registered by
``apps.chat`` (or whoever re-registered it before us) is extended with an inline, not replaced.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.bot.answer_checks import CheckResult, answer_checks_summary
from apps.bot.models import AnswerAudit, AnswerCheck, BotSettings, GuardEvent, SensitiveTerm
from apps.bot.records import (
    answer_checks_from_audits,
    answer_checks_run,
    guard_events_review,
    kb_guard_scan,
    sensitive_terms_add,
)
from apps.bot.selectors import answer_check_ids
from apps.chat.models import Conversation
from apps.sites.models import Site


@admin.register(BotSettings)
class BotSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "site",
        "faq_threshold",
        "answer_threshold",
        "strict_citations",
        "max_passages",
        "memory_tokens",
        "cache_seconds",
        "updated_at",
    ]
    list_select_related = ["site"]
    fieldsets = [
        (None, {"fields": ["site", "persona"]}),
        (
            _("When to answer"),
            {
                "fields": ["faq_threshold", "answer_threshold", "strict_citations"],
                "description": _(
                    "Confidences are probabilities that a passage answers the question. "
                    "docs/answering.md shows what each threshold did on the evaluation set."
                ),
            },
        ),
        (_("Context and cache"), {"fields": ["max_passages", "memory_tokens", "cache_seconds"]}),
    ]


class TermsForm(forms.Form):
    terms = forms.CharField(
        label=_("Terms"), widget=forms.Textarea(attrs={"rows": 12}), help_text=_("One per line.")
    )
    category = forms.ChoiceField(label=_("Category"), choices=SensitiveTerm.Category.choices)
    action = forms.ChoiceField(label=_("Action"), choices=SensitiveTerm.Action.choices)
    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.all(),
        required=False,
        empty_label=_("every site"),
    )


@admin.register(SensitiveTerm)
class SensitiveTermAdmin(admin.ModelAdmin):
    list_display = ["term", "category", "action", "site", "is_active", "updated_at"]
    list_filter = ["category", "action", "is_active", "site"]
    list_editable = ["action", "is_active"]
    search_fields = ["term", "note"]
    actions = ["scan_knowledge"]
    change_list_template = "admin/bot/sensitiveterm/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "add-many/",
                self.admin_site.admin_view(self.add_many_view),
                name="bot_sensitiveterm_add_many",
            ),
            *super().get_urls(),
        ]

    def add_many_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TermsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            site = form.cleaned_data["site"]
            added = sensitive_terms_add(
                terms=form.cleaned_data["terms"].splitlines(),
                category=form.cleaned_data["category"],
                action=form.cleaned_data["action"],
                site_id=site.pk if site else None,
            )
            self.message_user(request, _("%d terms added.") % added, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:bot_sensitiveterm_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Add many sensitive terms"),
            "form": form,
        }
        return TemplateResponse(request, "admin/bot/sensitiveterm/add_many.html", context)

    @admin.action(description=_("Scan the knowledge base for all active terms"))
    def scan_knowledge(self, request: HttpRequest, queryset: QuerySet[SensitiveTerm]) -> None:
        result = kb_guard_scan()
        self.message_user(
            request,
            _("%(entries)d published entries scanned, %(flagged)d new flags for review.")
            % {"entries": result.entries, "flagged": result.flagged},
            messages.WARNING if result.flagged else messages.SUCCESS,
        )


@admin.register(GuardEvent)
class GuardEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "source",
        "outcome",
        "term_text",
        "category",
        "site",
        "conversation_link",
        "entry",
        "reviewed_at",
    ]
    list_filter = ["source", "outcome", "category", ("reviewed_at", admin.EmptyFieldListFilter)]
    search_fields = ["term_text", "excerpt", "route"]
    list_select_related = ["site", "article", "faq"]
    actions = ["mark_reviewed"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("conversation"))
    def conversation_link(self, obj: GuardEvent) -> str:
        if obj.conversation_id is None:
            return ""
        url = reverse("admin:chat_conversation_change", args=[obj.conversation_id])
        return format_html('<a href="{}">#{}</a>', url, obj.conversation_id)

    @admin.display(description=_("knowledge entry"))
    def entry(self, obj: GuardEvent) -> str:
        if obj.article_id:
            url = reverse("admin:knowledge_article_change", args=[obj.article_id])
            return format_html('<a href="{}">{}</a>', url, obj.article)
        if obj.faq_id:
            url = reverse("admin:knowledge_faqentry_change", args=[obj.faq_id])
            return format_html('<a href="{}">{}</a>', url, obj.faq)
        return ""

    @admin.action(description=_("Mark as reviewed"))
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[GuardEvent]) -> None:
        done = guard_events_review(
            event_ids=list(queryset.values_list("pk", flat=True)), user=request.user
        )
        self.message_user(request, _("%d events marked as reviewed.") % done, messages.SUCCESS)


def passages_table(audit: AnswerAudit) -> str:
    """The passages considered, best first: id, source id, confidence, used and cited marks."""
    rows = [
        (
            row.get("id"),
            row.get("external_id") or row.get("title", ""),
            f"{row.get('confidence', 0):.2f}",
            ("\u2713 used" if row.get("used") else "")
            + (" \u2605 cited" if row.get("cited") else ""),
        )
        for row in audit.passages
    ]
    if not rows:
        return "\u2014"
    return format_html(
        "<table><tr><th>id</th><th>{}</th><th>{}</th><th></th></tr>{}</table>",
        _("source"),
        _("confidence"),
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
    )


class _AuditDisplay:
    """Readable columns shared by the audit list and the conversation page's inline."""

    @admin.display(description=_("question"))
    def question_display(self, obj: AnswerAudit) -> str:
        return f"#{obj.question.seq} {obj.question.text[:200]}"

    @admin.display(description=_("reply"))
    def reply_display(self, obj: AnswerAudit) -> str:
        return f"#{obj.reply.seq}" if obj.reply else "\u2014"

    @admin.display(description=_("passages"))
    def passages_display(self, obj: AnswerAudit) -> str:
        return passages_table(obj)

    @admin.display(description=_("guard"))
    def guard_display(self, obj: AnswerAudit) -> str:
        return "; ".join(
            f"{v.get('source')}: {v.get('outcome')} {v.get('term') or v.get('route', '')}"
            for v in obj.guard
        )

    @admin.display(description=_("usage"))
    def usage_display(self, obj: AnswerAudit) -> str:
        usage = obj.usage or {}
        if not usage.get("input_tokens") and not usage.get("output_tokens"):
            return "\u2014"
        estimated = " ~" if usage.get("estimated") else ""
        return f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out{estimated}"


AUDIT_FIELDS = (
    "question_display",
    "reply_display",
    "decision",
    "reason",
    "top_confidence",
    "standalone",
    "rewrite",
    "passages_display",
    "citations",
    "route",
    "usage_display",
    "cached",
    "guard_display",
    "handoff",
    "latency_ms",
)


@admin.register(AnswerAudit)
class AnswerAuditAdmin(_AuditDisplay, admin.ModelAdmin):
    list_display = [
        "created_at",
        "conversation",
        "decision",
        "reason",
        "top_confidence",
        "route",
        "cached",
        "latency_ms",
    ]
    list_filter = ["decision", "reason", "cached", "for_agent", "language"]
    search_fields = ["standalone", "question__text"]
    list_select_related = ["conversation"]
    # The model's order is a transcript's (by conversation); an admin looks here for the latest.
    ordering = ["-created_at", "-pk"]
    fields = ("conversation", "created_at", "language", "for_agent", *AUDIT_FIELDS, "kb_version")
    readonly_fields = fields
    date_hierarchy = "created_at"
    actions = ["save_as_checks"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_check_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("bot.add_answercheck")

    @admin.action(
        description=_("Save as answer checks (expect today's citations or decline)"),
        permissions=["add_check"],
    )
    def save_as_checks(self, request: HttpRequest, queryset: QuerySet[AnswerAudit]) -> None:
        made = answer_checks_from_audits(audit_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            _(
                "%(created)d answer checks saved, %(skipped)d skipped (already checked, or nothing "
                "to expect: a handoff, a failed model, a cached answer)."
            )
            % {"created": made.created, "skipped": made.skipped},
            messages.SUCCESS if made.created else messages.WARNING,
        )


class AnswerAuditInline(_AuditDisplay, admin.StackedInline):
    model = AnswerAudit
    fk_name = "conversation"
    fields = AUDIT_FIELDS
    readonly_fields = AUDIT_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    # Transcript order, as the messages above it: each audit is read next to its question.
    ordering = ["created_at", "pk"]
    verbose_name_plural = _("answer audits (why the bot answered as it did)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AnswerAudit]:
        return super().get_queryset(request).select_related("question", "reply")


def _with_audit_inline(admin_site: admin.AdminSite) -> None:
    """Re-register the conversation admin in place with the audit inline appended."""
    current = admin_site.get_model_admin(Conversation)
    base = type(current)
    if AnswerAuditInline in base.inlines:
        return
    admin_site.unregister(Conversation)
    extended = type(
        base.__name__,
        (base,),
        {"inlines": [*base.inlines, AnswerAuditInline], "__module__": __name__},
    )
    admin_site.register(Conversation, extended)


_with_audit_inline(admin.site)


@admin.register(AnswerCheck)
class AnswerCheckAdmin(admin.ModelAdmin):
    list_display = [
        "result",
        "question",
        "site",
        "expect",
        "last_decision",
        "cited",
        "last_problem",
        "last_run_at",
    ]
    list_display_links = ["question"]
    list_filter = ["last_passed", "expect", "site"]
    search_fields = ["question", "expected_entries", "note"]
    list_select_related = ["site"]
    actions = ["run_selected"]
    change_list_template = "admin/bot/answercheck/change_list.html"
    LAST_RUN = ("result", "last_run_at", "last_decision", "last_reason", "cited", "last_problem")
    readonly_fields = LAST_RUN
    fieldsets = [
        (None, {"fields": ["site", "question", "history", "expect", "expected_entries", "note"]}),
        (_("Last run"), {"fields": LAST_RUN}),
    ]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "run-site/",
                self.admin_site.admin_view(self.run_site_view),
                name="bot_answercheck_run_site",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        sites = Site.objects.filter(answer_checks__isnull=False).distinct().order_by("name")
        context = {"check_sites": sites, "may_run": self.has_change_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **context})

    def run_site_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        chosen = request.POST.get("site", "")
        site = Site.objects.filter(pk=chosen).first() if chosen.isdigit() else None
        if site is None:
            self.message_user(request, _("Choose a site."), messages.ERROR)
        else:
            self._report(request, answer_checks_run(check_ids=answer_check_ids(site_id=site.pk)))
        return HttpResponseRedirect(reverse("admin:bot_answercheck_changelist"))

    @admin.action(description=_("Run the selected checks"), permissions=["change"])
    def run_selected(self, request: HttpRequest, queryset: QuerySet[AnswerCheck]) -> None:
        self._report(
            request, answer_checks_run(check_ids=list(queryset.values_list("pk", flat=True)))
        )

    def _report(self, request: HttpRequest, results: list[CheckResult]) -> None:
        failed = any(not r.passed for r in results)
        level = messages.ERROR if failed else messages.SUCCESS
        self.message_user(request, answer_checks_summary(results), level)

    @admin.display(description=_("result"), ordering="last_passed")
    def result(self, obj: AnswerCheck) -> str:
        if obj.last_passed is None:
            return format_html('<span title="{}">\u2014</span>', _("never run"))
        icon = "icon-yes.svg" if obj.last_passed else "icon-no.svg"
        label = _("passed") if obj.last_passed else _("failed")
        return format_html(
            '<img src="{}" alt="{}"> <span style="color: {}">{}</span>',
            static(f"admin/img/{icon}"),
            label,
            "#2e7d32" if obj.last_passed else "#c62828",
            label,
        )

    @admin.display(description=_("cited"))
    def cited(self, obj: AnswerCheck) -> str:
        return "; ".join(obj.last_cited) or "\u2014"
