"""Reads for outcomes: each conversation's outcome and every figure the dashboard shows."""

from __future__ import annotations

from apps.analytics.selectors.common import (
    MAX_DAYS,
    Period,
    insight_sites,
    outcome_settings_get,
    period_for,
)
from apps.analytics.selectors.gaps import GapGroup, knowledge_gaps
from apps.analytics.selectors.outcomes import (
    AbandonedDetail,
    ConversationOutcome,
    Outcome,
    conversation_outcomes,
    outcome_counts,
)
from apps.analytics.selectors.report import Insights, insights_as_dict, insights_compute
from apps.analytics.selectors.tickets import (
    CSAT_WINDOW,
    csat_figures,
    csat_request_for,
    csat_ticket_for_visitor,
    ticket_figures,
)

__all__ = [
    "CSAT_WINDOW",
    "MAX_DAYS",
    "AbandonedDetail",
    "ConversationOutcome",
    "GapGroup",
    "Insights",
    "Outcome",
    "Period",
    "conversation_outcomes",
    "csat_figures",
    "csat_request_for",
    "csat_ticket_for_visitor",
    "insight_sites",
    "insights_as_dict",
    "insights_compute",
    "knowledge_gaps",
    "outcome_counts",
    "outcome_settings_get",
    "period_for",
    "ticket_figures",
]
