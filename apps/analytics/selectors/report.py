"""Every figure of one site's period in one value: the dashboard, the CSV and the report command."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.analytics.selectors.common import Period, outcome_settings_get
from apps.analytics.selectors.feedback import FeedbackFigures, feedback_figures
from apps.analytics.selectors.gaps import GapGroup, knowledge_gaps
from apps.analytics.selectors.outcomes import Outcome, OutcomeCounts, outcome_counts
from apps.analytics.selectors.tickets import (
    Clock,
    CsatFigures,
    TicketFigures,
    csat_figures,
    ticket_figures,
)
from apps.analytics.selectors.usage import UsageFigures, usage_figures
from apps.sites.models import Site

_CENT = Decimal("0.0001")


@dataclass(frozen=True)
class Insights:
    site: Site
    period: Period
    reopen_window_hours: int
    outcomes: OutcomeCounts
    tickets: TicketFigures
    csat: CsatFigures
    feedback: FeedbackFigures
    usage: UsageFigures
    gaps: list[GapGroup]

    @property
    def resolutions(self) -> int:
        by = self.outcomes.by_outcome
        return by[Outcome.RESOLVED_BOT] + by[Outcome.RESOLVED_AGENT]

    @property
    def cost_per_resolution(self) -> Decimal | None:
        """Model cost of the period (CNY) over the conversations resolved, by bot or agent."""
        if not self.resolutions:
            return None
        return (self.usage.cost_cny / self.resolutions).quantize(_CENT)

    def daily(self) -> list[dict[str, Any]]:
        """One row per day: outcomes of the conversations started that day, and model spend."""
        rows = []
        for usage in self.usage.by_day:
            outcomes = self.outcomes.by_day.get(usage.day, {})
            resolved = outcomes.get(Outcome.RESOLVED_BOT, 0) + outcomes.get(
                Outcome.RESOLVED_AGENT, 0
            )
            rows.append(
                {
                    "date": usage.day.isoformat(),
                    **{outcome: outcomes.get(outcome, 0) for outcome in Outcome.values},
                    "calls": usage.calls,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cost_cny": float(usage.cost_cny),
                    "cost_per_resolution_cny": (
                        float(usage.cost_cny / resolved) if resolved else None
                    ),
                }
            )
        return rows


def insights_compute(*, site: Site, period: Period, gaps: int = 20) -> Insights:
    """Compute every figure of ``site`` over ``period`` (``gaps``: how many gap groups)."""
    return Insights(
        site=site,
        period=period,
        reopen_window_hours=outcome_settings_get(site=site).reopen_window_hours,
        outcomes=outcome_counts(site=site, period=period),
        tickets=ticket_figures(site=site, period=period),
        csat=csat_figures(site=site, period=period),
        feedback=feedback_figures(site=site, period=period),
        usage=usage_figures(site=site, period=period),
        gaps=knowledge_gaps(site=site, period=period, limit=gaps) if gaps else [],
    )


def _seconds(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 1)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _clock(clock: Clock) -> dict[str, Any]:
    return {
        "stopped": clock.stopped,
        "met": clock.met,
        "overdue": clock.overdue,
        "met_rate": _rate(clock.met_rate),
        "average_seconds": _seconds(clock.average),
        "median_seconds": _seconds(clock.median),
        "p90_seconds": _seconds(clock.p90),
    }


def insights_as_dict(insights: Insights) -> dict[str, Any]:
    """The figures as plain JSON-ready data (the report command's ``--json``)."""
    outcomes, usage, csat = insights.outcomes, insights.usage, insights.csat
    settled = outcomes.settled
    per_resolution = insights.cost_per_resolution
    return {
        "site": {"key": insights.site.public_key, "name": insights.site.name},
        "period": {
            "from": insights.period.first.isoformat(),
            "to": insights.period.last.isoformat(),
            "time_zone": str(insights.period.zone),
            "judged_at": insights.period.now.isoformat(),
            "reopen_window_hours": insights.reopen_window_hours,
        },
        "conversations": {
            "total": outcomes.total,
            "settled": settled,
            **outcomes.by_outcome,
            "bot_resolution_rate": _rate(outcomes.rate(Outcome.RESOLVED_BOT)),
            "agent_resolution_rate": _rate(outcomes.rate(Outcome.RESOLVED_AGENT)),
            "handoff_rate": _rate(outcomes.handed_to_humans / settled if settled else None),
            "abandon_rate": _rate(outcomes.rate(Outcome.ABANDONED)),
            "abandoned_by_detail": outcomes.abandoned_by_detail,
        },
        "handoffs_by_reason": {
            reason: {"count": n, "rate": _rate(n / settled if settled else None)}
            for reason, n in sorted(outcomes.handoffs_by_reason.items(), key=lambda kv: -kv[1])
        },
        "tickets": {
            "total": insights.tickets.total,
            "first_response": _clock(insights.tickets.first_response),
            "resolution": _clock(insights.tickets.resolution),
        },
        "csat": {
            "responses": csat.responses,
            "solved_tickets": csat.solved,
            "response_rate": _rate(csat.response_rate),
            "average": None if csat.average is None else round(csat.average, 2),
            "satisfied_rate": _rate(csat.satisfied_rate),
            "distribution": {str(k): v for k, v in csat.distribution.items()},
        },
        "feedback": {
            "up": insights.feedback.up,
            "down": insights.feedback.down,
            "up_rate": _rate(insights.feedback.up_rate),
            "by_decision": insights.feedback.by_decision,
        },
        "models": {
            # What the priced attempts cost: with unpriced ones it is short of the true cost,
            # and with no priced ones at all the cost is unknown, not 0.
            "cost_cny": float(usage.cost_cny),
            "cost_unknown": usage.cost_unknown,
            "unpriced_attempts": usage.unpriced_attempts,
            "cost_per_resolution_cny": None if per_resolution is None else float(per_resolution),
            "calls": usage.calls,
            "attempts": usage.attempts,
            "error_rate": _rate(usage.error_rate),
            "failover_rate": _rate(usage.failover_rate),
            "failure_rate": _rate(usage.failure_rate),
            "errors_by_kind": usage.errors_by_kind,
            "by_model": [
                {
                    "provider": m.provider,
                    "model": m.model,
                    "attempts": m.attempts,
                    "error_rate": _rate(m.error_rate),
                    "input_tokens": m.input_tokens,
                    "output_tokens": m.output_tokens,
                    "cost_cny": float(m.cost_cny),
                    "cost_unknown": m.cost_unknown,
                    "unpriced_attempts": m.unpriced,
                }
                for m in usage.by_model
            ],
        },
        "daily": insights.daily(),
        "knowledge_gaps": [
            {
                "question": gap.question,
                "examples": gap.examples,
                "asked": gap.asked,
                "conversations": gap.conversations,
                "language": gap.language,
                "tickets": gap.tickets,
                "ticket_ids": gap.ticket_ids,
                "agent_answer": gap.agent_answer,
                "answer_ticket_id": gap.answer_ticket_id,
            }
            for gap in insights.gaps
        ],
    }
