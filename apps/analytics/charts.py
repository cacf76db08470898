"""The dashboard's chart series: labels and numbers only, drawn by static/analytics/insights.js."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from apps.analytics.selectors import Insights, Outcome
from apps.handoff.models import Ticket

# Outcome colours, the same in every chart and in the legend of the figures above them.
OUTCOME_COLOURS: dict[str, str] = {
    Outcome.RESOLVED_BOT.value: "#16a34a",
    Outcome.RESOLVED_AGENT.value: "#2563eb",
    Outcome.HANDED_OFF.value: "#f59e0b",
    Outcome.ABANDONED.value: "#dc2626",
    Outcome.OPEN.value: "#9ca3af",
}


def choice_label(choices: Any, value: str) -> str:
    """The human label of ``value`` in a TextChoices class; unknown values as they are."""
    return str(choices(value).label) if value in choices.values else value


def chart_data(insights: Insights) -> dict[str, Any]:
    """Everything the page's charts draw, as JSON-ready data."""
    daily = insights.daily()
    outcomes = insights.outcomes
    reasons = sorted(outcomes.handoffs_by_reason.items(), key=lambda kv: -kv[1])
    settled = outcomes.settled or 1
    usage = insights.usage
    return {
        "days": [row["date"] for row in daily],
        "outcomes": [
            {
                "label": str(Outcome(outcome).label),
                "colour": OUTCOME_COLOURS[outcome],
                "values": [row[outcome] for row in daily],
            }
            for outcome in Outcome.values
        ],
        "reasons": {
            "labels": [choice_label(Ticket.Reason, reason) for reason, _n in reasons],
            "values": [round(100 * n / settled, 1) for _reason, n in reasons],
        },
        "cost": {
            "label": _("Model cost (CNY)"),
            "values": [row["cost_cny"] for row in daily],
            "per_resolution_label": _("Cost per resolution (CNY)"),
            "per_resolution": [row["cost_per_resolution_cny"] for row in daily],
        },
        "csat": {
            "label": _("Ratings"),
            "labels": [str(k) for k in insights.csat.distribution],
            "values": list(insights.csat.distribution.values()),
        },
        "errors": {
            "label": _("Failed attempts"),
            "labels": list(usage.errors_by_kind),
            "values": list(usage.errors_by_kind.values()),
        },
    }
