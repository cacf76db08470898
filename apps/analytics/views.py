"""The insights dashboard (``/console/insights/``) and its CSV export, for staff only."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from apps.analytics import charts
from apps.analytics.charts import choice_label
from apps.analytics.forms import InsightsFilter
from apps.analytics.selectors import (
    AbandonedDetail,
    GapGroup,
    Insights,
    insight_sites,
    insights_as_dict,
    insights_compute,
)
from apps.analytics.selectors.rows import EXPORTS
from apps.bot.models import AnswerAudit
from apps.handoff.models import Ticket
from apps.knowledge.selectors import collections_for_site
from apps.sites.models import Site

# The links' words; the ``rows=`` values stay English, as the exported files' names do.
EXPORT_LABELS = {
    "conversations": gettext_lazy("conversations"),
    "tickets": gettext_lazy("tickets"),
    "feedback": gettext_lazy("feedback"),
    "usage": gettext_lazy("model usage"),
}


def _refused(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_staff:
        return render(request, "analytics/refused.html", status=403)
    return None


@login_required
def insights(request: HttpRequest) -> HttpResponse:
    """Show one site's outcomes over a period: figures, charts, knowledge gaps."""
    if (refused := _refused(request)) is not None:
        return refused
    sites = insight_sites(user=request.user)
    form = InsightsFilter(request.GET, sites=sites)
    if not sites.exists():
        return render(request, "analytics/insights.html", {"form": form, "no_sites": True})
    if not form.is_valid():
        return render(request, "analytics/insights.html", {"form": form}, status=400)
    site = form.cleaned_data["site"]
    period = form.period(now=timezone.now())
    data = insights_compute(site=site, period=period)
    return render(request, "analytics/insights.html", {"form": form, **_context(data)})


def _context(data: Insights) -> dict[str, Any]:
    site, period = data.site, data.period
    summary = insights_as_dict(data)
    query = {"site": site.public_key, "from": period.first, "to": period.last}
    collection = collections_for_site(site_id=site.pk).order_by("pk").first()
    return {
        "insights": data,
        "summary": summary,
        "charts": charts.chart_data(data),
        "reasons": [
            {"label": choice_label(Ticket.Reason, reason), **figures}
            for reason, figures in summary["handoffs_by_reason"].items()
        ],
        "abandoned": [
            (choice_label(AbandonedDetail, detail), n)
            for detail, n in data.outcomes.abandoned_by_detail.items()
        ],
        "feedback_rows": [
            (choice_label(AnswerAudit.Decision, decision), counts)
            for decision, counts in data.feedback.by_decision.items()
        ],
        "exports": [
            (
                EXPORT_LABELS[kind],
                f"{reverse('analytics:export')}?{urlencode({**query, 'rows': kind})}",
            )
            for kind in EXPORTS
        ],
        "gaps": [
            (gap, _faq_draft_url(gap, site, collection.pk if collection else None))
            for gap in data.gaps
        ],
    }


def _faq_draft_url(gap: GapGroup, site: Site, collection_id: int | None) -> str:
    """The knowledge admin's "add FAQ entry" form, filled in from a gap group."""
    initial: dict[str, Any] = {
        "question": gap.question[:500],
        "alternatives": "\n".join(gap.examples),
        "answer": gap.agent_answer,
        "language": gap.language,
        "status": "draft",
        "source": ngettext(
            "knowledge gap, %(site)s, asked %(n)d time",
            "knowledge gap, %(site)s, asked %(n)d times",
            gap.asked,
        )
        % {"site": site.name, "n": gap.asked},
    }
    if collection_id is not None:
        initial["collection"] = collection_id
    return f"{reverse('admin:knowledge_faqentry_add')}?{urlencode(initial)}"


class _Echo:
    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts with one of these as a formula; visitors write comments.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark: Excel opens UTF-8 (Chinese text) correctly only with one.
    yield "\ufeff" + writer.writerow(list(header))
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


@login_required
def export(request: HttpRequest) -> HttpResponseBase:
    """Stream the rows behind the dashboard as CSV: ``rows=`` one of ``EXPORTS``."""
    if (refused := _refused(request)) is not None:
        return refused
    sites = insight_sites(user=request.user)
    form = InsightsFilter(request.GET, sites=sites)
    kind = request.GET.get("rows", "conversations")
    if kind not in EXPORTS or not sites.exists() or not form.is_valid():
        return HttpResponse(
            _("Unknown site, dates or rows."), status=400, content_type="text/plain"
        )
    site = form.cleaned_data["site"]
    period = form.period(now=timezone.now())
    header, rows = EXPORTS[kind](site=site, period=period)
    response = StreamingHttpResponse(_csv_lines(header, rows), content_type="text/csv")
    name = f"csbot-{kind}-{site.public_key}-{period.first}-{period.last}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
