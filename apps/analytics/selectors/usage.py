"""What the models cost and how reliably they answered, from the gateway's usage records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from apps.analytics.selectors.common import Period
from apps.llm.models import Origin, Purpose, UsageRecord
from apps.llm.selectors import UNPRICED
from apps.sites.models import Site

_FAILED = (UsageRecord.Outcome.ERROR, UsageRecord.Outcome.BROKEN)
ZERO = Decimal(0)


@dataclass(frozen=True)
class DayUsage:
    day: dt.date
    calls: int
    input_tokens: int
    output_tokens: int
    cost_cny: Decimal


@dataclass(frozen=True)
class ModelUsage:
    provider: str
    model: str
    attempts: int
    failed: int
    input_tokens: int
    output_tokens: int
    # What the attempts with a price cost; the ``unpriced`` ones are not in it.
    cost_cny: Decimal
    priced: int
    unpriced: int

    @property
    def error_rate(self) -> float:
        return self.failed / self.attempts if self.attempts else 0.0

    @property
    def cost_unknown(self) -> bool:
        """Tokens were spent and none of them had a price: ``cost_cny`` is not its cost."""
        return bool(self.unpriced) and not self.priced


@dataclass(frozen=True)
class UsageFigures:
    by_day: list[DayUsage]
    by_model: list[ModelUsage]
    # Failed attempts of chat calls by error kind (timeout, rate_limit, content_filter…).
    errors_by_kind: dict[str, int]
    # Visitors' answers (chat calls made for a visitor), and those that needed another route or
    # got no answer at all. Agent assist, route checks and llm_chat are not in these.
    calls: int
    failed_over: int
    failed: int
    answer_attempts: int = 0
    answer_failed_attempts: int = 0
    # Chat calls made for something else (apps.llm.models.Origin): cost, not reliability.
    other_calls: int = 0

    @property
    def cost_cny(self) -> Decimal:
        """What the priced attempts cost; ``unpriced_names`` lists the models left out."""
        return sum((day.cost_cny for day in self.by_day), ZERO)

    @property
    def unpriced_names(self) -> str:
        """The models some of whose tokens had no price (``provider/model``, comma-separated)."""
        return ", ".join(f"{m.provider}/{m.model}" for m in self.by_model if m.unpriced)

    @property
    def unpriced_attempts(self) -> int:
        return sum(model.unpriced for model in self.by_model)

    @property
    def cost_unknown(self) -> bool:
        """Tokens were spent and none had a price: ¥0 would be wrong, the cost is not known."""
        return bool(self.unpriced_attempts) and not any(model.priced for model in self.by_model)

    @property
    def attempts(self) -> int:
        return sum(model.attempts for model in self.by_model)

    @property
    def failed_attempts(self) -> int:
        return sum(model.failed for model in self.by_model)

    @property
    def error_rate(self) -> float | None:
        return self.failed_attempts / self.attempts if self.attempts else None

    @property
    def answer_error_rate(self) -> float | None:
        """Of visitors' answers' attempts, the share that failed."""
        if not self.answer_attempts:
            return None
        return self.answer_failed_attempts / self.answer_attempts

    @property
    def failover_rate(self) -> float | None:
        return self.failed_over / self.calls if self.calls else None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.calls if self.calls else None


def _records(site: Site, period: Period) -> QuerySet[UsageRecord]:
    return UsageRecord.objects.filter(
        site=site, created_at__gte=period.start, created_at__lt=period.end
    ).order_by()


def usage_figures(*, site: Site, period: Period) -> UsageFigures:
    """Tokens and cost (CNY) by day and model; error, failover and failure rates of chat calls.

    A call (one answer) is counted by its first attempt: every call has exactly one. It failed
    over when a later attempt ran on another route than the first (retries on the same route
    are not failovers); it failed when it neither completed nor was cancelled by its caller.
    The rates count visitors' answers only; tokens and cost count every call.
    """
    records = _records(site, period)
    first_chat = Q(attempt=1, purpose=Purpose.CHAT, origin=Origin.VISITOR)
    days = {
        row["day"]: row
        for row in records.annotate(day=TruncDate("created_at", tzinfo=period.zone))
        .values("day")
        .annotate(
            calls=Count("pk", filter=first_chat),
            input=Coalesce(Sum("input_tokens"), 0),
            output=Coalesce(Sum("output_tokens"), 0),
            cost=Sum("cost_cny"),
        )
    }
    by_day = [
        DayUsage(
            day=day,
            calls=days[day]["calls"] if day in days else 0,
            input_tokens=days[day]["input"] if day in days else 0,
            output_tokens=days[day]["output"] if day in days else 0,
            cost_cny=(days[day]["cost"] or ZERO) if day in days else ZERO,
        )
        for day in period.days
    ]
    by_model = [
        ModelUsage(
            provider=row["provider"],
            model=row["model"],
            attempts=row["attempts"],
            failed=row["failed"],
            input_tokens=row["input"],
            output_tokens=row["output"],
            cost_cny=row["cost"] or ZERO,
            priced=row["priced"],
            unpriced=row["unpriced"],
        )
        for row in records.values("provider", "model")
        .annotate(
            attempts=Count("pk"),
            failed=Count("pk", filter=Q(outcome__in=_FAILED)),
            priced=Count("pk", filter=Q(price__isnull=False)),
            unpriced=Count("pk", filter=UNPRICED),
            input=Coalesce(Sum("input_tokens"), 0),
            output=Coalesce(Sum("output_tokens"), 0),
            cost=Sum("cost_cny"),
        )
        .order_by("-attempts", "provider", "model")
    ]
    chat = records.filter(purpose=Purpose.CHAT, origin=Origin.VISITOR)
    answers = chat.aggregate(
        attempts=Count("pk"), failed=Count("pk", filter=Q(outcome__in=_FAILED))
    )
    other_calls = (
        records.filter(purpose=Purpose.CHAT, attempt=1).exclude(origin=Origin.VISITOR).count()
    )
    errors = {
        row["error_kind"]: row["n"]
        for row in chat.filter(outcome__in=_FAILED)
        .values("error_kind")
        .annotate(n=Count("pk"))
        .order_by("-n")
    }
    ended = chat.aggregate(
        completed=Count("pk", filter=Q(outcome=UsageRecord.Outcome.COMPLETE)),
        cancelled=Count("pk", filter=Q(outcome=UsageRecord.Outcome.CANCELLED)),
    )
    other_route = UsageRecord.objects.filter(call_id=OuterRef("call_id"), attempt=1).exclude(
        provider=OuterRef("provider"), model=OuterRef("model")
    )
    failed_over = (
        chat.filter(attempt__gt=1).filter(Exists(other_route)).values("call_id").distinct().count()
    )
    calls = sum(day.calls for day in by_day)
    return UsageFigures(
        by_day=by_day,
        by_model=by_model,
        errors_by_kind={kind or "unknown": n for kind, n in errors.items()},
        calls=calls,
        failed_over=failed_over,
        failed=max(calls - ended["completed"] - ended["cancelled"], 0),
        answer_attempts=answers["attempts"],
        answer_failed_attempts=answers["failed"],
        other_calls=other_calls,
    )
