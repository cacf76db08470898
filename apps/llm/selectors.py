"""Reads: which routes a site answers with, prices, usage totals and route statistics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext

from apps.llm.breaker import BreakerState, breaker_get
from apps.llm.config import env_config, offline_route
from apps.llm.models import ModelPrice, ModelRoute, Purpose, UsageRecord
from apps.llm.presets import PRESETS
from apps.llm.routes import Route, Timeouts


def route_from_row(row: ModelRoute) -> Route:
    """Build the gateway's Route from an admin row (its provider must be loaded)."""
    provider = row.provider
    return Route(
        provider=provider.preset,
        model=row.model,
        base_url=provider.base_url or PRESETS[provider.preset].base_url,
        api_key=provider.api_key,
        timeouts=Timeouts(
            connect=row.connect_timeout,
            first_token=row.first_token_timeout,
            between_tokens=row.between_tokens_timeout,
            total=row.total_timeout,
        ),
        max_tokens=row.max_tokens,
        max_retries=row.max_retries,
        route_id=row.pk,
    )


def _site_rows(site_id: int, purpose: str) -> QuerySet[ModelRoute]:
    return (
        ModelRoute.objects.filter(provider__site_id=site_id, purpose=purpose, enabled=True)
        .select_related("provider")
        .order_by("position", "pk")
    )


def chain_for_site(*, site_id: int | None) -> tuple[Route, ...]:
    """Return the site's routes from the admin if it has any, else the environment's chain.

    With neither, the offline answerer: csbot still answers, by quoting the knowledge base.
    """
    if site_id is not None:
        rows = list(_site_rows(site_id, Purpose.CHAT))
        if rows:
            return tuple(route_from_row(row) for row in rows)
    return env_config().chain or (offline_route(),)


def embedding_route_for_site(*, site_id: int | None) -> Route | None:
    """Return the one embeddings route (vectors of two models never mix), or None."""
    if site_id is not None:
        row = _site_rows(site_id, Purpose.EMBEDDINGS).first()
        if row is not None:
            return route_from_row(row)
    return env_config().embeddings


@dataclass(frozen=True, slots=True)
class ConfiguredRoute:
    """A route as listed by ``llm_check`` and the health page."""

    site: str
    purpose: str
    route: Route


def configured_routes() -> list[ConfiguredRoute]:
    """Return the environment's routes, then every enabled admin route of every site.

    The environment's and the default's site is worded in the active language.
    """
    config = env_config()
    environment = gettext("(environment)")
    found = [ConfiguredRoute(environment, Purpose.CHAT, route) for route in config.chain]
    if config.embeddings is not None:
        found.append(ConfiguredRoute(environment, Purpose.EMBEDDINGS, config.embeddings))
    if not config.chain:
        found.insert(0, ConfiguredRoute(gettext("(default)"), Purpose.CHAT, offline_route()))
    return found + _admin_routes(ModelRoute.objects.all())


def provider_routes(*, provider_id: int) -> list[ConfiguredRoute]:
    """Return the enabled routes of one provider (what "Save and check" pings)."""
    return _admin_routes(ModelRoute.objects.filter(provider_id=provider_id))


def _admin_routes(rows: QuerySet[ModelRoute]) -> list[ConfiguredRoute]:
    rows = (
        rows.filter(enabled=True)
        .select_related("provider__site")
        .order_by("provider__site__name", "purpose", "position", "pk")
    )
    return [
        ConfiguredRoute(row.provider.site.name, row.purpose, route_from_row(row)) for row in rows
    ]


def price_current(*, provider: str, model: str, at: datetime | None = None) -> ModelPrice | None:
    """Return the price version in force at ``at`` (now by default), if any."""
    return (
        ModelPrice.objects.filter(
            provider=provider, model=model, valid_from__lte=at or timezone.now()
        )
        .order_by("-valid_from")
        .first()
    )


# Attempts whose cost is unknown: tokens spent on a model with no price in force (Models → Model
# prices). The offline answerer costs nothing, and neither does an attempt that spent no tokens.
UNPRICED = (
    Q(price__isnull=True)
    & ~Q(provider="offline")
    & (Q(input_tokens__gt=0) | Q(output_tokens__gt=0))
)


@dataclass(frozen=True, slots=True)
class UsageTotals:
    calls: int
    attempts: int
    input_tokens: int
    output_tokens: int
    # Some of the tokens were counted by csbot, not reported by the provider.
    estimated: bool
    cost_cny: Decimal
    cost_usd: Decimal
    # Attempts that spent tokens on a model without a price: their cost is missing from the sums.
    unpriced: int


def usage_totals(records: QuerySet[UsageRecord]) -> UsageTotals:
    totals = records.aggregate(
        calls=Count("call_id", distinct=True),
        attempts=Count("pk"),
        tokens_in=Sum("input_tokens"),
        tokens_out=Sum("output_tokens"),
        estimated=Count("pk", filter=Q(tokens_estimated=True)),
        cost_cny=Sum("cost_cny"),
        cost_usd=Sum("cost_usd"),
        unpriced=Count("pk", filter=UNPRICED),
    )
    return UsageTotals(
        calls=totals["calls"],
        attempts=totals["attempts"],
        input_tokens=totals["tokens_in"] or 0,
        output_tokens=totals["tokens_out"] or 0,
        estimated=bool(totals["estimated"]),
        cost_cny=totals["cost_cny"] or Decimal(0),
        cost_usd=totals["cost_usd"] or Decimal(0),
        unpriced=totals["unpriced"],
    )


def conversation_usage_totals(*, conversation_id: int) -> UsageTotals:
    return usage_totals(UsageRecord.objects.filter(conversation_id=conversation_id))


def call_usage_totals(*, call_id: uuid.UUID) -> UsageTotals:
    return usage_totals(UsageRecord.objects.filter(call_id=call_id))


@dataclass(frozen=True, slots=True)
class RouteError:
    """A route's last failed attempt, in the provider's words (keys masked when recorded)."""

    kind: str
    http_status: int | None
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RouteStats:
    attempts: int
    failures: int
    avg_ttft_ms: float | None
    last_error: RouteError | None = None


def routes_stats(*, routes: Sequence[ConfiguredRoute], since: datetime) -> list[RouteStats | None]:
    """Return each route's attempts since ``since``: how many, how many failed, mean TTFT.

    An admin route counts the records of its own row; an environment route (or the offline
    default) those of the environment's calls to its provider and model, whichever site they
    answered: records with no row. Records of a deleted admin row lose their row and are
    counted with the environment's if it has the same model. Three queries, whatever the count.
    """
    recent = UsageRecord.objects.filter(created_at__gte=since).exclude(
        outcome=UsageRecord.Outcome.CANCELLED
    )
    by_row = _stats_by(recent.filter(route__isnull=False), "route_id")
    by_model = _stats_by(recent.filter(route__isnull=True), "provider", "model")
    return [
        by_row.get((item.route.route_id,))
        if item.route.route_id is not None
        else by_model.get((item.route.provider, item.route.model))
        for item in routes
    ]


def _stats_by(records: QuerySet[UsageRecord], *key: str) -> dict[tuple[Any, ...], RouteStats]:
    failed = ~Q(outcome=UsageRecord.Outcome.COMPLETE)
    rows = list(
        records.values(*key).annotate(
            attempts=Count("pk"),
            failures=Count("pk", filter=failed),
            avg_ttft_ms=Avg("ttft_ms"),
            # The newest failure: ids grow with time.
            last_failure=Max("pk", filter=failed),
        )
    )
    failures = UsageRecord.objects.in_bulk([row["last_failure"] for row in rows if row["failures"]])
    return {
        tuple(row[name] for name in key): RouteStats(
            row["attempts"],
            row["failures"],
            row["avg_ttft_ms"],
            _route_error(failures.get(row["last_failure"])),
        )
        for row in rows
    }


def _route_error(record: UsageRecord | None) -> RouteError | None:
    if record is None:
        return None
    return RouteError(
        record.error_kind or record.outcome,
        record.http_status,
        record.error_message,
        record.created_at,
    )


async def routes_state(*, routes: Sequence[ConfiguredRoute]) -> list[BreakerState]:
    """Return each route's circuit: closed, open (and for how long), half-open."""
    settings = env_config().gateway
    breaker = breaker_get(failures=settings.breaker_failures, cooldown=settings.breaker_cooldown)
    return [await breaker.state(item.route.breaker_key) for item in routes]


def price_in_use(*, price_id: int) -> bool:
    return UsageRecord.objects.filter(price_id=price_id).exists()
