"""Tickets against their SLA clocks, and what visitors said of the agents' help (CSAT)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)

from apps.analytics.models import CsatResponse
from apps.analytics.selectors.common import Period, outcome_settings_get
from apps.handoff.models import Ticket
from apps.sites.models import Site

# How long after a ticket is solved the widget asks for, and accepts, a rating.
CSAT_WINDOW = dt.timedelta(days=2)


@dataclass(frozen=True)
class Clock:
    """One SLA clock over the period's tickets: how long it took, and how often in time."""

    # Tickets whose clock stopped (answered / solved).
    stopped: int
    # Of those, stopped by their due time.
    met: int
    # Still running past their due time: breached already.
    overdue: int
    average: dt.timedelta | None
    median: dt.timedelta | None
    p90: dt.timedelta | None

    @property
    def met_rate(self) -> float | None:
        """Share met of the tickets whose outcome is known (stopped, or running and overdue)."""
        judged = self.stopped + self.overdue
        return self.met / judged if judged else None


@dataclass(frozen=True)
class TicketFigures:
    total: int
    first_response: Clock
    resolution: Clock


def _clock(tickets: QuerySet[Ticket], *, stop: str, due: str, now: dt.datetime) -> Clock:
    took = ExpressionWrapper(F(stop) - F("created_at"), output_field=DurationField())
    stopped = tickets.filter(**{f"{stop}__isnull": False})
    figures = tickets.aggregate(
        stopped=Count("pk", filter=Q(**{f"{stop}__isnull": False})),
        met=Count("pk", filter=Q(**{f"{stop}__lte": F(due)})),
        overdue=Count("pk", filter=Q(**{f"{stop}__isnull": True, f"{due}__lt": now})),
        average=Avg(took),
    )
    durations = stopped.annotate(took=took).order_by("took").values_list("took", flat=True)
    count = figures["stopped"]
    return Clock(
        stopped=count,
        met=figures["met"],
        overdue=figures["overdue"],
        average=figures["average"],
        # Percentiles by offset: the same SQL on PostgreSQL and SQLite, one row read each.
        median=durations[count // 2] if count else None,
        p90=durations[min(count - 1, (count * 9) // 10)] if count else None,
    )


def ticket_figures(*, site: Site, period: Period) -> TicketFigures:
    """First response and resolution of the tickets opened in ``period``, against their SLA.

    Durations are wall-clock from the handoff; "met" compares with the due times the handoff
    set in business time, so a ticket left overnight can take 14 h and still be in time.
    Tickets closed unsolved (spam, duplicates) have no resolution.
    """
    tickets = Ticket.objects.filter(
        site=site, created_at__gte=period.start, created_at__lt=period.end
    ).exclude(status=Ticket.Status.CLOSED, solved_at__isnull=True)
    return TicketFigures(
        total=tickets.count(),
        first_response=_clock(
            tickets, stop="first_responded_at", due="first_response_due_at", now=period.now
        ),
        resolution=_clock(tickets, stop="solved_at", due="resolution_due_at", now=period.now),
    )


@dataclass(frozen=True)
class AgentCsat:
    name: str
    responses: int
    average: float


@dataclass(frozen=True)
class CsatFigures:
    responses: int
    # Tickets solved in the period: the ones that were asked.
    solved: int
    average: float | None
    # Ratings 4 and 5, the usual "satisfied" share.
    satisfied: int
    distribution: dict[int, int]
    by_agent: list[AgentCsat]

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.solved if self.solved else None

    @property
    def satisfied_rate(self) -> float | None:
        return self.satisfied / self.responses if self.responses else None


def csat_figures(*, site: Site, period: Period) -> CsatFigures:
    """Ratings given for tickets solved in ``period``."""
    in_period = {"ticket__solved_at__gte": period.start, "ticket__solved_at__lt": period.end}
    responses = CsatResponse.objects.filter(site=site, **in_period)
    totals = responses.aggregate(
        n=Count("pk"), avg=Avg("rating"), ok=Count("pk", filter=Q(rating__gte=4))
    )
    distribution = dict.fromkeys(range(1, 6), 0)
    for row in responses.order_by().values("rating").annotate(n=Count("pk")):
        distribution[row["rating"]] = row["n"]
    agents = (
        responses.exclude(ticket__assignee=None)
        .order_by()
        .values("ticket__assignee__username", "ticket__assignee__first_name")
        .annotate(n=Count("pk"), avg=Avg("rating"))
        .order_by("-n", "ticket__assignee__username")[:20]
    )
    solved = Ticket.objects.filter(
        site=site, solved_at__gte=period.start, solved_at__lt=period.end
    ).count()
    return CsatFigures(
        responses=totals["n"],
        solved=solved,
        average=totals["avg"],
        satisfied=totals["ok"],
        distribution=distribution,
        by_agent=[
            AgentCsat(
                name=row["ticket__assignee__first_name"] or row["ticket__assignee__username"],
                responses=row["n"],
                average=row["avg"],
            )
            for row in agents
        ],
    )


def _ratable(ticket: Ticket | None, now: dt.datetime) -> bool:
    return (
        ticket is not None
        and ticket.status == Ticket.Status.SOLVED
        and ticket.solved_at is not None
        and ticket.solved_at >= now - CSAT_WINDOW
        and outcome_settings_get(site=ticket.site).csat_enabled
    )


def csat_ticket_for_visitor(*, visitor_id: int, now: dt.datetime) -> Ticket | None:
    """The visitor's latest ticket, if it was solved recently enough to rate (or re-rate)."""
    ticket = (
        Ticket.objects.filter(visitor_id=visitor_id)
        .select_related("site")
        .order_by("-created_at", "-pk")
        .first()
    )
    return ticket if _ratable(ticket, now) else None


def csat_request_for(*, conversation_id: int, now: dt.datetime) -> int | None:
    """The ticket of this conversation the widget should ask the visitor to rate, if any.

    Its latest ticket, solved within ``CSAT_WINDOW``, not rated yet, on a site that asks.
    """
    ticket = (
        Ticket.objects.filter(conversation_id=conversation_id)
        .select_related("site")
        .order_by("-created_at", "-pk")
        .first()
    )
    if ticket is None or not _ratable(ticket, now):
        return None
    return None if CsatResponse.objects.filter(ticket=ticket).exists() else ticket.pk
