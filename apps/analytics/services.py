"""Writes: a visitor's thumbs on an answer, their rating of an agent's help, a site's settings."""

from __future__ import annotations

from django.utils import timezone

from apps.analytics.models import AnswerFeedback, CsatResponse, OutcomeSettings
from apps.analytics.selectors import csat_ticket_for_visitor
from apps.chat.models import Message
from apps.core.ratelimit import rate_limit_hit
from apps.sites.models import Site

# Ratings a visitor may send a minute (thumbs and CSAT together): clicking through every answer
# of a long conversation stays well under it; a script filling the table does not.
RATINGS_PER_MINUTE = 30


class RatingRejected(Exception):
    """The visitor may not rate this; ``code`` names why (an error frame's code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _rate_limited(visitor_id: int) -> None:
    within = rate_limit_hit(
        scope="visitor-ratings", key=str(visitor_id), limit=RATINGS_PER_MINUTE, window_seconds=60
    )
    if not within:
        raise RatingRejected(
            "rate_limited", f"at most {RATINGS_PER_MINUTE} ratings a minute; wait a moment"
        )


def feedback_record(
    *, visitor_id: int, message_id: int, value: str, comment: str = ""
) -> AnswerFeedback:
    """Store the visitor's thumbs on one of the bot's answers in their own conversations.

    Rating the same answer again replaces the rating and its comment. Any other message — a
    visitor's, an agent's, one still streaming, one of another visitor — is refused with the
    same ``unknown_message`` whether or not it exists, so ids reveal nothing. Over
    ``RATINGS_PER_MINUTE`` it raises ``RatingRejected("rate_limited")``.
    """
    if value not in AnswerFeedback.Value.values:
        raise ValueError(f"feedback is 'up' or 'down', not {value!r}")
    _rate_limited(visitor_id)
    message = (
        Message.objects.filter(
            pk=message_id,
            conversation__visitor_id=visitor_id,
            author_kind=Message.AuthorKind.BOT,
        )
        .exclude(state=Message.State.STREAMING)
        .select_related("conversation")
        .first()
    )
    if message is None:
        raise RatingRejected("unknown_message", "no finished answer of the assistant has this id")
    feedback, _ = AnswerFeedback.objects.update_or_create(
        message=message,
        defaults={"value": value, "comment": comment.strip()},
        create_defaults={
            "value": value,
            "comment": comment.strip(),
            "site_id": message.conversation.site_id,
            "conversation_id": message.conversation_id,
        },
    )
    return feedback


def csat_record(*, visitor_id: int, rating: int, comment: str = "") -> CsatResponse:
    """Store the visitor's 1–5 rating of their latest ticket, solved within ``CSAT_WINDOW``.

    Rating again replaces the rating. With no such ticket (none solved lately, the site does not
    ask) it raises ``RatingRejected("nothing_to_rate")``.
    """
    if not 1 <= rating <= 5:
        raise ValueError(f"a rating is 1 to 5, not {rating!r}")
    _rate_limited(visitor_id)
    ticket = csat_ticket_for_visitor(visitor_id=visitor_id, now=timezone.now())
    if ticket is None:
        raise RatingRejected("nothing_to_rate", "there is no solved conversation to rate now")
    response, _ = CsatResponse.objects.update_or_create(
        ticket=ticket,
        defaults={"rating": rating, "comment": comment.strip()},
        create_defaults={
            "rating": rating,
            "comment": comment.strip(),
            "site_id": ticket.site_id,
            "conversation_id": ticket.conversation_id,
        },
    )
    return response


def outcome_settings_save(
    *, site: Site, reopen_window_hours: int | None = None, csat_enabled: bool | None = None
) -> OutcomeSettings:
    """Create or change the site's outcome settings; unset arguments keep their value."""
    settings, _ = OutcomeSettings.objects.get_or_create(site=site)
    changes = {
        name: value
        for name, value in {
            "reopen_window_hours": reopen_window_hours,
            "csat_enabled": csat_enabled,
        }.items()
        if value is not None
    }
    if changes:
        for name, value in changes.items():
            setattr(settings, name, value)
        settings.full_clean()
        settings.save(update_fields=list(changes))
    return settings
