from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chat.protocol import MAX_COMMENT_CHARS
from apps.sites.models import Site

DEFAULT_REOPEN_WINDOW_HOURS = 72


class OutcomeSettings(models.Model):
    """How one site's conversations are judged. A site without a row uses the defaults."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, related_name="outcome_settings", verbose_name=_("site")
    )
    reopen_window_hours = models.PositiveIntegerField(
        _("reopen window (hours)"),
        default=DEFAULT_REOPEN_WINDOW_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_(
            "A conversation the bot kept counts as resolved only once the visitor has stayed "
            "away this long after its last answer; a visitor who writes again within it "
            "reopens the conversation."
        ),
    )
    csat_enabled = models.BooleanField(
        _("ask for a rating"),
        default=True,
        help_text=_("After an agent solves a ticket, the widget asks the visitor to rate it 1–5."),
    )

    class Meta:
        verbose_name = _("outcome settings")
        verbose_name_plural = _("outcome settings")
        permissions = [("view_all_insights", _("Can view the insights of every site"))]

    def __str__(self) -> str:
        return str(self.site)


class AnswerFeedback(models.Model):
    """A visitor's thumbs up or down on one bot answer, with an optional comment."""

    class Value(models.TextChoices):
        UP = "up", _("helpful")
        DOWN = "down", _("not helpful")

    # Copied from the conversation: the dashboard filters by site and time without a join.
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    conversation = models.ForeignKey(
        "chat.Conversation",
        on_delete=models.CASCADE,
        related_name="answer_feedback",
        verbose_name=_("conversation"),
    )
    message = models.OneToOneField(
        "chat.Message", on_delete=models.CASCADE, related_name="feedback", verbose_name=_("message")
    )
    value = models.CharField(_("rating"), max_length=4, choices=Value.choices)
    comment = models.TextField(_("comment"), max_length=MAX_COMMENT_CHARS, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("answer feedback")
        verbose_name_plural = _("answer feedback")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["site", "created_at"])]

    def __str__(self) -> str:
        return f"{self.message_id} {self.value}"


class CsatResponse(models.Model):
    """A visitor's 1–5 rating of a ticket an agent solved."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    conversation = models.ForeignKey(
        "chat.Conversation",
        on_delete=models.CASCADE,
        related_name="csat_responses",
        verbose_name=_("conversation"),
    )
    ticket = models.OneToOneField(
        "handoff.Ticket", on_delete=models.CASCADE, related_name="csat", verbose_name=_("ticket")
    )
    rating = models.PositiveSmallIntegerField(
        _("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), max_length=MAX_COMMENT_CHARS, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="analytics_csat_rating_1_5"
            )
        ]
        indexes = [models.Index(fields=["site", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.rating}/5"
