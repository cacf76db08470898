"""Where a waiting visitor stands: their place in the team's queue, and the wait measured there.

The typical wait is only ever a measurement: the median time from a live chat's ticket coming
in to an agent taking it (claim or round-robin, not a transfer), over the team's tickets of the
last week, and only once there are enough of them to mean something.
"""

from __future__ import annotations

import datetime as dt
import math

from django.db.models import (
    CharField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from apps.chat.models import Conversation, ConversationEvent
from apps.handoff.models import Ticket
from apps.handoff.texts import sentences, text_for

TYPICAL_WAIT_WINDOW = dt.timedelta(days=7)
# Fewer tickets taken than this in the window: no figure at all rather than a guess.
TYPICAL_WAIT_MIN_TICKETS = 5
# How agents take a waiting ticket; a transfer hands on one already taken.
_TAKEN_VIA = ["claim", "round_robin"]


def queue_position(*, ticket: Ticket, team_id: int) -> int:
    """1 + the visitors of the ticket's team still waiting whose ticket came in before it (the
    console lists the queue oldest first)."""
    ahead = Ticket.objects.filter(
        Q(created_at__lt=ticket.created_at) | Q(created_at=ticket.created_at, pk__lt=ticket.pk),
        team_id=team_id,
        status=Ticket.Status.NEW,
        assignee__isnull=True,
        conversation__status=Conversation.Status.WAITING,
    )
    return ahead.count() + 1


def typical_wait(*, site_id: int, team_id: int, at: dt.datetime) -> dt.timedelta | None:
    """The median wait until an agent took a live chat of the team that came in within the
    last week; ``None`` with fewer than ``TYPICAL_WAIT_MIN_TICKETS`` taken.

    Asked on every handoff, so the database does the work: two queries on the week's tickets of
    the team, whatever their number, and at most two waits read back.
    """
    first_taken = (
        ConversationEvent.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            kind="handoff.assigned",
            data__via__in=_TAKEN_VIA,
        )
        # Compared as text: a cast of the key to a number could raise on PostgreSQL for any
        # event row it reaches before the other conditions leave it out.
        .annotate(ticket_key=KeyTextTransform("ticket", "data"))
        .filter(ticket_key=Cast(OuterRef("pk"), CharField()))
        # The first take: later ones are a transfer back or the next visit's.
        .order_by("created_at", "pk")
        .values("created_at")[:1]
    )
    waits = (
        Ticket.objects.filter(
            site_id=site_id,
            team_id=team_id,
            channel=Ticket.Channel.CHAT,
            created_at__gte=at - TYPICAL_WAIT_WINDOW,
        )
        .annotate(taken_at=Subquery(first_taken))
        .filter(taken_at__isnull=False)
        .annotate(
            waited=ExpressionWrapper(F("taken_at") - F("created_at"), output_field=DurationField())
        )
        .order_by("waited")
        .values_list("waited", flat=True)
    )
    taken = waits.count()
    if taken < TYPICAL_WAIT_MIN_TICKETS:
        return None
    # The middle one, or the mean of the middle two; none if tickets went meanwhile (a purge).
    middle = list(waits[(taken - 1) // 2 : taken // 2 + 1])
    return sum(middle, dt.timedelta()) / len(middle) if middle else None


def _rounded(value: float) -> int:
    return math.floor(value + 0.5)  # half up: 2.5 minutes read as 3, as people round


def wait_words(wait: dt.timedelta, language: str) -> str:
    """``wait`` as people say it: "about a minute", "about 4 minutes", "about 15 minutes"
    (to 5 past ten), "about 2 hours"."""
    minutes = wait.total_seconds() / 60
    if minutes < 1.5:
        return text_for("wait_a_minute", language)
    rounded = _rounded(minutes) if minutes < 10 else 5 * _rounded(minutes / 5)
    if rounded < 60:
        return text_for("wait_minutes", language, minutes=str(rounded))
    hours = _rounded(minutes / 60)
    if hours == 1:
        return text_for("wait_an_hour", language)
    return text_for("wait_hours", language, hours=str(hours))


def queue_words(*, position: int, wait: dt.timedelta | None, language: str) -> str:
    """What a visitor who starts waiting is told: their place, and the measured wait if any."""
    place = text_for("queue_position", language, position=str(position))
    if wait is None:
        return place
    return sentences(
        language, place, text_for("queue_wait", language, wait=wait_words(wait, language))
    )
