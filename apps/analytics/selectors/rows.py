"""The rows behind the dashboard's figures, for the CSV export; each streams from the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator

from django.db.models import Count, OuterRef, Q, Subquery, Sum

from apps.analytics.models import AnswerFeedback, CsatResponse
from apps.analytics.selectors.common import Period
from apps.analytics.selectors.outcomes import conversation_outcomes, conversations_judged
from apps.bot.models import AnswerAudit
from apps.handoff.models import Ticket
from apps.llm.models import UsageRecord
from apps.sites.models import Site

Rows = tuple[list[str], Iterable[Iterable[object]]]
_CHUNK = 2000


def _local(value: dt.datetime | None, period: Period) -> str:
    return "" if value is None else value.astimezone(period.zone).isoformat(timespec="seconds")


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> int | str:
    return "" if start is None or end is None else round((end - start).total_seconds())


def _within(stop: dt.datetime | None, due: dt.datetime | None) -> str:
    if stop is None or due is None:
        return ""
    return "yes" if stop <= due else "no"


def conversation_rows(*, site: Site, period: Period) -> Rows:
    header = [
        "conversation_id", "started_at", "last_activity_at", "visitor_id", "language", "status",
        "messages", "outcome", "handoff_reason", "abandoned_detail", "thumbs_up", "thumbs_down",
        "model_cost_cny",
    ]  # fmt: skip
    cost = (
        UsageRecord.objects.filter(conversation=OuterRef("pk"))
        .order_by()
        .values("conversation")
        .annotate(total=Sum("cost_cny"))
        .values("total")
    )
    thumbs = (
        AnswerFeedback.objects.filter(conversation=OuterRef("pk")).order_by().values("conversation")
    )
    outcomes = conversation_outcomes(site=site, period=period)
    rows = (
        conversations_judged(site=site, period=period)
        .annotate(
            cost=Subquery(cost),
            up=Subquery(thumbs.annotate(n=Count("pk", filter=Q(value="up"))).values("n")),
            down=Subquery(thumbs.annotate(n=Count("pk", filter=Q(value="down"))).values("n")),
        )
        .select_related("visitor")
        .order_by("created_at", "pk")
    )

    def lines() -> Iterator[list[object]]:
        for c in rows.iterator(chunk_size=_CHUNK):
            o = outcomes.get(c.pk)
            if o is None:  # started after the outcomes were read
                continue
            yield [
                c.pk, _local(c.created_at, period), _local(c.updated_at, period),
                c.visitor.public_id, c.language, c.status, c.last_seq, o.outcome, o.reason,
                o.detail, c.up or 0, c.down or 0, c.cost or 0,
            ]  # fmt: skip

    return header, lines()


def ticket_rows(*, site: Site, period: Period) -> Rows:
    header = [
        "ticket_id", "conversation_id", "created_at", "reason", "channel", "status", "priority",
        "team", "assignee", "first_response_due_at", "first_responded_at",
        "first_response_seconds", "first_response_in_time", "resolution_due_at", "solved_at",
        "resolution_seconds", "resolution_in_time", "csat_rating", "csat_comment",
    ]  # fmt: skip
    csat = CsatResponse.objects.filter(ticket=OuterRef("pk"))
    rows = (
        Ticket.objects.filter(site=site, created_at__gte=period.start, created_at__lt=period.end)
        .select_related("team", "assignee")
        .annotate(
            rating=Subquery(csat.values("rating")[:1]),
            rating_comment=Subquery(csat.values("comment")[:1]),
        )
        .order_by("created_at", "pk")
    )

    def lines() -> Iterator[list[object]]:
        for t in rows.iterator(chunk_size=_CHUNK):
            yield [
                t.pk, t.conversation_id, _local(t.created_at, period), t.reason, t.channel,
                t.status, t.priority, t.team.name if t.team else "",
                t.assignee.get_username() if t.assignee else "",
                _local(t.first_response_due_at, period), _local(t.first_responded_at, period),
                _seconds(t.created_at, t.first_responded_at),
                _within(t.first_responded_at, t.first_response_due_at),
                _local(t.resolution_due_at, period), _local(t.solved_at, period),
                _seconds(t.created_at, t.solved_at), _within(t.solved_at, t.resolution_due_at),
                t.rating or "", t.rating_comment or "",
            ]  # fmt: skip

    return header, lines()


def feedback_rows(*, site: Site, period: Period) -> Rows:
    header = [
        "rated_at",
        "conversation_id",
        "message_id",
        "value",
        "comment",
        "decision",
        "answer",
    ]
    decision = AnswerAudit.objects.filter(reply_id=OuterRef("message_id")).values("decision")[:1]
    rows = (
        AnswerFeedback.objects.filter(
            site=site, created_at__gte=period.start, created_at__lt=period.end
        )
        .annotate(decision=Subquery(decision))
        .select_related("message")
        .order_by("created_at", "pk")
    )

    def lines() -> Iterator[list[object]]:
        for f in rows.iterator(chunk_size=_CHUNK):
            yield [
                _local(f.created_at, period), f.conversation_id, f.message_id, f.value,
                f.comment, f.decision or "", f.message.text,
            ]  # fmt: skip

    return header, lines()


def usage_rows(*, site: Site, period: Period) -> Rows:
    fields = [
        "created_at", "call_id", "attempt", "purpose", "provider", "model", "conversation_id",
        "input_tokens", "output_tokens", "tokens_estimated", "outcome", "error_kind",
        "latency_ms", "cost_cny", "cost_usd",
    ]  # fmt: skip
    rows = (
        UsageRecord.objects.filter(
            site=site, created_at__gte=period.start, created_at__lt=period.end
        )
        .order_by("created_at", "pk")
        .values_list(*fields)
    )

    def lines() -> Iterator[list[object]]:
        for row in rows.iterator(chunk_size=_CHUNK):
            yield [_local(row[0], period), *row[1:]]

    return fields, lines()


EXPORTS: dict[str, Callable[..., Rows]] = {
    "conversations": conversation_rows,
    "tickets": ticket_rows,
    "feedback": feedback_rows,
    "usage": usage_rows,
}
