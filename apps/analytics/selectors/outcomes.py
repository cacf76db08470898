"""Each conversation's outcome, computed in SQL from what was stored about it.

Judged at ``period.now``, first rule that applies (docs/outcomes.md):

1. ``resolved_agent`` — its latest ticket was solved (solved, or handed back to the bot).
2. ``handed_off`` — it has a ticket that was not solved (waiting, with an agent, pending, or
   closed unsolved); ``reason`` is the ticket's handoff reason.
3. ``open`` — no ticket, and the last activity is more recent than the site's reopen window:
   the visitor may still come back, so nobody can say yet whether the bot resolved it.
4. ``resolved_bot`` — no ticket, quiet for the whole window, and the visitor's last question
   was answered from the knowledge base (an FAQ or passages) with no thumbs down on the answer.
5. ``abandoned`` — the rest, with ``detail``: ``handoff_unavailable`` (asked for a human when
   nobody could come and left no message), ``rated_unhelpful`` (thumbs down on the last answer),
   ``unanswered`` (the last question got no grounded answer).

Bot conversations are never closed, so a visitor who returns writes in the same conversation:
a return within the window reopens it, and it is judged again from its new end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Exists, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils.translation import gettext_lazy as _

from apps.analytics.models import AnswerFeedback
from apps.analytics.selectors.common import Period, outcome_settings_get
from apps.bot.models import AnswerAudit
from apps.chat.models import Conversation, ConversationEvent, Message
from apps.handoff.models import Ticket
from apps.sites.models import Site

GROUNDED = (AnswerAudit.Decision.FAQ, AnswerAudit.Decision.ANSWER)


class Outcome(models.TextChoices):
    RESOLVED_BOT = "resolved_bot", _("resolved by the bot")
    RESOLVED_AGENT = "resolved_agent", _("resolved by an agent")
    HANDED_OFF = "handed_off", _("handed off, not solved")
    ABANDONED = "abandoned", _("abandoned")
    OPEN = "open", _("still open")


class AbandonedDetail(models.TextChoices):
    HANDOFF_UNAVAILABLE = "handoff_unavailable", _("wanted a human, nobody could come")
    RATED_UNHELPFUL = "rated_unhelpful", _("rated the last answer unhelpful")
    UNANSWERED = "unanswered", _("last question not answered")


def conversations_judged(*, site: Site, period: Period) -> QuerySet[Conversation]:
    """The conversations that get an outcome: the site's, started in the period, with a message.

    A conversation the visitor opened without writing anything is not one.
    """
    return Conversation.objects.filter(
        site=site, created_at__gte=period.start, created_at__lt=period.end, last_seq__gt=0
    )


def _base(site: Site, period: Period) -> QuerySet[Any, Any]:
    """Per conversation, what the rules read; each subquery appears (and runs) once."""
    # Ids grow with time: the highest is the latest ticket, found without a sort.
    latest_ticket = (
        Ticket.objects.filter(conversation=OuterRef("pk"))
        .order_by()
        .values("conversation")
        .annotate(latest=Max("pk"))
        .values("latest")
    )
    # The bot's own audits, not agent-assist suggestions; again the highest id is the latest.
    latest_audit = (
        AnswerAudit.objects.filter(conversation=OuterRef("pk"), for_agent=False)
        .order_by()
        .values("conversation")
        .annotate(latest=Max("pk"))
        .values("latest")
    )
    last_question = Message.objects.filter(
        conversation=OuterRef("pk"), author_kind=Message.AuthorKind.VISITOR
    ).order_by("-seq")
    return (
        conversations_judged(site=site, period=period)
        .annotate(
            day=TruncDate("created_at", tzinfo=period.zone),
            ticket_id=Subquery(latest_ticket),
            last_question_id=Subquery(last_question.values("pk")[:1]),
            audit_id=Subquery(latest_audit),
            unavailable=Exists(
                ConversationEvent.objects.filter(
                    conversation=OuterRef("pk"), kind="handoff.unavailable"
                )
            ),
        )
        .order_by()
        .values(
            "pk",
            "day",
            "updated_at",
            "ticket_id",
            "last_question_id",
            "audit_id",
            "unavailable",
        )
    )


def outcome_sql(*, site: Site, period: Period) -> tuple[str, list[Any]]:
    """SQL and parameters of one row per conversation: id, day, outcome, reason, detail.

    The per-conversation reads (latest ticket, last question, latest audit) run once each, in a
    materialised CTE; the rows they point at and the thumbs on the answer are hash-joined to
    them. Plain SQL because the ORM repeats a subquery in every CASE branch that reads it: a
    dozen index probes a conversation instead of three (docs/benchmarks.md, "Outcomes").
    """
    base_sql, base_params = _base(site, period).query.sql_with_params()
    quiet_since = connection.ops.adapt_datetimefield_value(
        period.now - dt.timedelta(hours=outcome_settings_get(site=site).reopen_window_hours)
    )
    audit, feedback = AnswerAudit._meta.db_table, AnswerFeedback._meta.db_table
    ticket = Ticket._meta.db_table
    # The bot's latest answer was to the visitor's last question, from the knowledge base, and
    # was not rated unhelpful.
    grounded = "a.question_id = b.last_question_id AND a.decision IN (%s, %s) AND f.id IS NULL"
    sql = f"""
        WITH base AS MATERIALIZED ({base_sql})
        SELECT b.pk, b.day,
            CASE
                WHEN t.status = %s THEN %s
                WHEN t.id IS NOT NULL THEN %s
                WHEN b.updated_at > %s THEN %s
                WHEN {grounded} THEN %s
                ELSE %s
            END AS outcome,
            COALESCE(t.reason, '') AS reason,
            CASE
                WHEN t.id IS NOT NULL OR b.updated_at > %s OR {grounded} THEN ''
                WHEN b.unavailable THEN %s
                WHEN f.id IS NOT NULL THEN %s
                ELSE %s
            END AS detail
        FROM base b
        LEFT JOIN {ticket} t ON t.id = b.ticket_id
        LEFT JOIN {audit} a ON a.id = b.audit_id
        LEFT JOIN {feedback} f ON f.message_id = a.reply_id AND f.value = %s
    """  # noqa: S608 - table names and the ORM's own SQL; every value is a parameter
    params = [
        *base_params,
        Ticket.Status.SOLVED, Outcome.RESOLVED_AGENT,
        Outcome.HANDED_OFF,
        quiet_since, Outcome.OPEN,
        *GROUNDED, Outcome.RESOLVED_BOT,
        Outcome.ABANDONED,
        quiet_since, *GROUNDED,
        AbandonedDetail.HANDOFF_UNAVAILABLE,
        AbandonedDetail.RATED_UNHELPFUL,
        AbandonedDetail.UNANSWERED,
        AnswerFeedback.Value.DOWN,
    ]  # fmt: skip
    return sql, [str(p) if isinstance(p, models.Choices) else p for p in params]


@dataclass(frozen=True)
class ConversationOutcome:
    conversation_id: int
    day: dt.date
    outcome: str
    reason: str
    detail: str


def _as_date(value: dt.date | str) -> dt.date:
    # SQLite hands the truncated date back as text.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _fetch(sql: str, params: list[Any]) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner prices the per-conversation subqueries high enough to JIT-compile
            # the query, which then costs a second more than running it (benchmarks.md).
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def conversation_outcomes(*, site: Site, period: Period) -> dict[int, ConversationOutcome]:
    """Each conversation's outcome, by conversation id."""
    sql, params = outcome_sql(site=site, period=period)
    return {
        row[0]: ConversationOutcome(row[0], _as_date(row[1]), *row[2:])
        for row in _fetch(sql, params)
    }


@dataclass
class OutcomeCounts:
    """Conversations by outcome, by handoff reason, by why abandoned, and by day."""

    total: int = 0
    by_outcome: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Outcome.values, 0))
    # Every conversation handed to humans (solved or not), by the reason of its latest ticket.
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)
    abandoned_by_detail: dict[str, int] = field(default_factory=dict)
    by_day: dict[dt.date, dict[str, int]] = field(default_factory=dict)

    @property
    def handed_to_humans(self) -> int:
        return self.by_outcome[Outcome.RESOLVED_AGENT] + self.by_outcome[Outcome.HANDED_OFF]

    @property
    def settled(self) -> int:
        """Conversations whose outcome is known (not open)."""
        return self.total - self.by_outcome[Outcome.OPEN]

    def rate(self, outcome: str) -> float | None:
        """The share of settled conversations with ``outcome``; None when none settled."""
        return self.by_outcome[outcome] / self.settled if self.settled else None


def outcome_counts(*, site: Site, period: Period) -> OutcomeCounts:
    """Count the period's conversations every way the dashboard shows, in one grouped query."""
    sql, params = outcome_sql(site=site, period=period)
    grouped = f"SELECT day, outcome, reason, detail, COUNT(*) FROM ({sql}) o GROUP BY 1, 2, 3, 4"  # noqa: S608
    rows = [
        {"day": _as_date(day), "outcome": o, "reason": r, "detail": d, "n": n}
        for day, o, r, d, n in _fetch(grouped, params)
    ]
    return _tally(rows, period.days)


def _tally(rows: Iterable[dict], days: list[dt.date]) -> OutcomeCounts:
    counts = OutcomeCounts(by_day={day: dict.fromkeys(Outcome.values, 0) for day in days})
    for row in rows:
        n, outcome = row["n"], row["outcome"]
        counts.total += n
        counts.by_outcome[outcome] += n
        if row["reason"]:
            reasons = counts.handoffs_by_reason
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + n
        if row["detail"]:
            details = counts.abandoned_by_detail
            details[row["detail"]] = details.get(row["detail"], 0) + n
        day = counts.by_day.get(row["day"])
        if day is not None:
            day[outcome] += n
    return counts
