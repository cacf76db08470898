"""What visitors said of the bot's answers: thumbs up or down, and their comments."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from apps.analytics.models import AnswerFeedback
from apps.analytics.selectors.common import Period
from apps.bot.models import AnswerAudit
from apps.sites.models import Site


@dataclass(frozen=True)
class FeedbackFigures:
    up: int
    down: int
    # Thumbs by how the bot answered: faq, answer (generated) or unknown.
    by_decision: dict[str, dict[str, int]]
    # The latest thumbs down that came with a comment, newest first.
    complaints: list[AnswerFeedback]

    @property
    def total(self) -> int:
        return self.up + self.down

    @property
    def up_rate(self) -> float | None:
        return self.up / self.total if self.total else None


def feedback_figures(*, site: Site, period: Period, complaints: int = 10) -> FeedbackFigures:
    """Thumbs given in ``period`` on the bot's answers."""
    feedback = AnswerFeedback.objects.filter(
        site=site, created_at__gte=period.start, created_at__lt=period.end
    )
    decision = AnswerAudit.objects.filter(reply_id=OuterRef("message_id")).values("decision")[:1]
    by_decision: dict[str, dict[str, int]] = {}
    for row in (
        feedback.order_by()
        .annotate(decision=Coalesce(Subquery(decision), Value("unknown")))
        .values("decision", "value")
        .annotate(n=Count("pk"))
    ):
        counts = by_decision.setdefault(row["decision"], {"up": 0, "down": 0})
        counts[row["value"]] += row["n"]
    return FeedbackFigures(
        up=sum(counts["up"] for counts in by_decision.values()),
        down=sum(counts["down"] for counts in by_decision.values()),
        by_decision=by_decision,
        complaints=list(
            feedback.filter(value=AnswerFeedback.Value.DOWN)
            .exclude(comment="")
            .select_related("message")
            .order_by("-created_at", "-pk")[:complaints]
        ),
    )
