# Django's admin classes are generic only in django-stubs, not at runtime.
# mypy: disable-error-code="type-arg"
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.llm.breaker import BreakerState
from apps.llm.forms import ModelProviderForm
from apps.llm.loopbound import run_in_own_loop
from apps.llm.models import ModelPrice, ModelProvider, ModelRoute, UsageRecord
from apps.llm.selectors import (
    ConfiguredRoute,
    RouteStats,
    configured_routes,
    price_in_use,
    provider_routes,
    routes_state,
    routes_stats,
    usage_totals,
)
from apps.llm.services import RouteCheck, routes_check


class ModelRouteInline(admin.TabularInline):
    model = ModelRoute
    extra = 1
    fields = [
        "position",
        "model",
        "purpose",
        "enabled",
        "connect_timeout",
        "first_token_timeout",
        "between_tokens_timeout",
        "total_timeout",
        "max_tokens",
        "max_retries",
    ]


@admin.register(ModelProvider)
class ModelProviderAdmin(admin.ModelAdmin):
    form = ModelProviderForm
    list_display = ["__str__", "site", "preset", "address", "key_stored"]
    list_filter = ["site", "preset"]
    search_fields = ["name", "site__name"]
    inlines = [ModelRouteInline]
    change_form_template = "admin/llm/modelprovider/change_form.html"

    def response_add(
        self, request: HttpRequest, obj: ModelProvider, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._checked(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: ModelProvider) -> HttpResponse:
        return self._checked(request, obj) or super().response_change(request, obj)

    def _checked(self, request: HttpRequest, obj: ModelProvider) -> HttpResponse | None:
        """On "Save and check", ping the saved routes and stay on the page with the result.

        The check runs once the save is committed: its usage records are written by another
        connection, which must see the routes. A failure is a warning, not a refusal: the
        provider may be down only for now.
        """
        if "_check" not in request.POST:
            return None
        transaction.on_commit(lambda: self._check(request, obj.pk))
        return HttpResponseRedirect(reverse("admin:llm_modelprovider_change", args=[obj.pk]))

    def _check(self, request: HttpRequest, provider_id: int) -> None:
        routes = provider_routes(provider_id=provider_id)
        for check in run_in_own_loop(lambda: routes_check(routes=routes)):
            route, attempt = check.configured.route, check.attempt
            if attempt.error is None:
                messages.success(
                    request,
                    _("%(route)s answered (%(s).2f s).")
                    % {"route": route.label, "s": attempt.latency},
                )
            else:
                messages.warning(
                    request,
                    _("%(route)s failed: %(error)s. Visitors get no answer from it until fixed.")
                    % {"route": route.label, "error": attempt.error},
                )
        if not routes:
            messages.warning(request, _("No enabled route to check."))

    def get_fields(self, request: HttpRequest, obj: ModelProvider | None = None) -> list[Any]:
        fields = ["site", "preset", "name", "base_url", "api_key"]
        return [*fields, "clear_api_key"] if obj is not None and obj.api_key else fields

    @admin.display(description=_("address"))
    def address(self, obj: ModelProvider) -> str:
        return obj.base_url or str(_("(the provider's public API)"))

    @admin.display(description=_("key stored"), boolean=True)
    def key_stored(self, obj: ModelProvider) -> bool:
        return bool(obj.api_key)


_CIRCUITS = {
    "closed": pgettext_lazy("circuit breaker", "closed"),
    "open": pgettext_lazy("circuit breaker", "open"),
    "half_open": pgettext_lazy("circuit breaker", "half-open"),
    "unknown": pgettext_lazy("circuit breaker", "unknown"),
}


@dataclass(frozen=True)
class _HealthRow:
    configured: ConfiguredRoute
    host: str
    state: BreakerState
    stats: RouteStats | None
    check: RouteCheck | None

    @property
    def circuit(self) -> str:
        return str(_CIRCUITS[self.state.state])


@admin.register(ModelRoute)
class ModelRouteAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "site",
        "purpose",
        "position",
        "enabled",
        "max_tokens",
        "max_retries",
    ]
    list_editable = ["position", "enabled"]
    list_filter = ["provider__site", "purpose", "enabled"]
    list_select_related = ["provider__site"]
    ordering = ["provider__site__name", "purpose", "position", "pk"]
    change_list_template = "admin/llm/modelroute/change_list.html"

    @admin.display(description=_("site"), ordering="provider__site__name")
    def site(self, obj: ModelRoute) -> str:
        return obj.provider.site.name

    def get_urls(self) -> list[URLPattern]:
        health = path(
            "health/",
            self.admin_site.admin_view(self.health_view),
            name="llm_modelroute_health",
        )
        return [health, *super().get_urls()]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        """Show every configured route's circuit and recent record; POST checks them now."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        routes = configured_routes()
        checks: list[RouteCheck | None] = [None] * len(routes)
        if request.method == "POST":
            checks = list(run_in_own_loop(lambda: routes_check(routes=routes)))
            failed = sum(1 for check in checks if check and check.attempt.error)
            messages.info(
                request,
                _("Checked %(n)d routes, %(failed)d failed.")
                % {"n": len(routes), "failed": failed},
            )
        states = run_in_own_loop(lambda: routes_state(routes=routes))
        stats = routes_stats(routes=routes, since=timezone.now() - timedelta(hours=24))
        rows = [
            _HealthRow(item, urlsplit(item.route.base_url).netloc, state, recent, check)
            for item, state, recent, check in zip(routes, states, stats, checks, strict=True)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Model route health"),
            "opts": self.model._meta,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/llm/health.html", context)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "provider",
        "model",
        "valid_from",
        "input_cny",
        "output_cny",
        "input_usd",
        "output_usd",
    ]
    list_filter = ["provider"]
    search_fields = ["model"]

    def get_readonly_fields(self, request: HttpRequest, obj: ModelPrice | None = None) -> list[str]:
        # A price is a version: records point at it, so a change is a new row, not an edit.
        if obj is not None:
            return [field.name for field in ModelPrice._meta.fields]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: ModelPrice | None = None) -> bool:
        if obj is not None and price_in_use(price_id=obj.pk):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "provider",
        "model",
        "purpose",
        "attempt",
        "outcome",
        "error_kind",
        "input_tokens",
        "output_tokens",
        "tokens_estimated",
        "ttft_ms",
        "latency_ms",
        "cost_cny",
        "cost_usd",
        "conversation",
    ]
    list_filter = [
        "purpose",
        "origin",
        "outcome",
        "error_kind",
        "provider",
        "tokens_estimated",
        "site",
    ]
    search_fields = ["model", "=call_id", "=conversation__id"]
    date_hierarchy = "created_at"
    list_select_related = ["conversation__visitor"]
    change_list_template = "admin/llm/usagerecord/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Show totals for what is filtered, e.g. one conversation (?conversation__id__exact=N)."""
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            queryset: QuerySet[UsageRecord] = context["cl"].queryset
            context["usage_totals"] = usage_totals(queryset)
        return response
