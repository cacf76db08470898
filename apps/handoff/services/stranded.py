"""Waiting visitors nobody can take any more: back to the bot, with the leave-a-message form.

A conversation waits for an agent of its ticket's team. When the last one who could take it
goes offline (or away) the visitor would wait for ever; instead the conversation goes back to
the bot, the ticket stays in the queue (an agent who comes back still claims it), and the
visitor is offered the leave-a-message form, whose message joins that ticket.

Checked a grace period after an agent's console closes or they set *away* (a console reload is
not leaving), by every worker's periodic sweep (the worker whose console closed may stop within
the grace; a worker that died took its agents offline without closing anything), and whenever
the visitor writes, asks again or comes back to a waiting conversation.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.chat.selectors import conversation_status
from apps.chat.services import conversation_status_move
from apps.core.cache import shared_cache
from apps.handoff.models import Ticket
from apps.handoff.selectors import agents_online, handoff_availability
from apps.handoff.services.common import (
    HandoffOutcome,
    Status,
    announce,
    publish_status,
    publish_unavailable,
    record,
)

logger = logging.getLogger(__name__)


def _agent_left_key(site_id: int) -> str:
    return f"handoff:agent-left:{site_id}"


def handoff_waiting_release(*, conversation_id: int, grace: bool = True) -> HandoffOutcome | None:
    """If nobody can take this waiting conversation now, give it back to the bot and offer the
    leave-a-message form; ``None`` when it still waits (or is not waiting).

    With ``grace``, not while an agent of the site left less than the grace period ago
    (``CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS``): a reloading console (or every console during a
    deploy) is offline for a moment, and the release that follows their leaving decides once
    the grace is over.

    The ticket stays new and unassigned: claiming it later takes the conversation from the bot.
    """
    ticket = (
        Ticket.objects.filter(
            conversation_id=conversation_id,
            conversation__status=Status.WAITING,
            status=Ticket.Status.NEW,
            assignee__isnull=True,
        )
        .select_related("site", "team", "conversation__site", "conversation__visitor")
        .first()
    )
    if ticket is None:
        return None
    if grace and shared_cache().get(_agent_left_key(ticket.site_id)) is not None:
        return None
    now = timezone.now()
    # An agent online after hours can still take it; hours matter only for what the form says.
    if ticket.team is not None and agents_online(team=ticket.team, at=now).exists():
        return None
    availability = handoff_availability(site=ticket.site, team=ticket.team, at=now)
    if availability.ok:
        return None  # someone came online meanwhile
    why = availability.reason
    conversation = ticket.conversation
    with transaction.atomic():
        if not conversation_status_move(
            conversation_id=conversation_id, from_statuses=[Status.WAITING], to_status=Status.BOT
        ):
            return None  # an agent took it meanwhile
        record(
            conversation,
            "handoff.unavailable",
            reason=ticket.reason,
            by="system",
            why=why,
            ticket=ticket.pk,
        )
        announce(conversation, f"unavailable_{why}")
        publish_status(conversation_id, Status.BOT, why)
        publish_unavailable(conversation_id, availability)
    return HandoffOutcome("unavailable", ticket_id=ticket.pk, unavailable_reason=why)


def handoff_return_status(*, conversation_id: int) -> str:
    """The conversation's status for a visitor coming back (their socket's first ``resume``):
    a waiting one nobody can take any more is given back to the bot first, and the visitor is
    offered the form, whatever client they use."""
    status = conversation_status(conversation_id=conversation_id)
    if status != Status.WAITING:
        return status
    released = handoff_waiting_release(conversation_id=conversation_id)
    return Status.BOT if released is not None else status


def handoffs_waiting_release(*, site_ids: list[int] | None = None, grace: bool) -> list[int]:
    """Release every waiting conversation (of these sites; ``None``: of all) nobody can take;
    return their ids.

    One query while nobody waits. Then one check per team's queue: when its first
    conversation still waits, someone can take the others too (or the site is within its
    grace, or an agent just took it), so they are left for the next round.
    """
    waiting = Ticket.objects.filter(
        conversation__status=Status.WAITING,
        status=Ticket.Status.NEW,
        assignee__isnull=True,
    )
    if site_ids is not None:
        waiting = waiting.filter(site_id__in=site_ids)
    rows = waiting.order_by("site_id", "team_id", "created_at").values_list(
        "site_id", "team_id", "conversation_id"
    )
    released: list[int] = []
    for _queue, queued in itertools.groupby(rows, key=lambda row: row[:2]):
        for _site_id, _team_id, conversation_id in queued:
            if handoff_waiting_release(conversation_id=conversation_id, grace=grace) is None:
                break
            released.append(conversation_id)
    return released


async def handoffs_sweep_forever() -> None:
    """Release the waiting conversations nobody can take, every half grace period, until
    cancelled (worker lifespan).

    Every worker sweeps, so a release does not depend on the worker whose console closed
    still running when the grace is over; the marker of an agent's leaving is in the shared
    cache, so no worker releases within the grace either.
    """
    while True:
        try:
            await database_sync_to_async(handoffs_waiting_release)(grace=True)
        except Exception:
            # A database outage must not end the sweep: the next round retries.
            logger.exception("sweeping stranded waiting conversations failed")
        await asyncio.sleep(settings.CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS / 2)


# --- after an agent left: once the grace period is over, on the worker's event loop -------

_later: set[asyncio.Task[None]] = set()


async def handoffs_release_later(*, site_ids: list[int]) -> None:
    """From a console socket an agent left (closed, or set away): after the grace period, release
    the sites' waiting conversations nobody can take.

    On this worker's event loop, so its events go out as every service's do. A worker that
    stops meanwhile forgets it: the other workers' sweep (``handoffs_sweep_forever``) releases
    them once the grace is over.
    """
    if not site_ids:
        return
    # Until the grace is over, a visitor's own asking does not release them either. A network
    # round trip to Redis: off the event loop, which serves every other socket meanwhile.
    await sync_to_async(shared_cache().set_many, thread_sensitive=False)(
        {_agent_left_key(site_id): True for site_id in site_ids},
        timeout=math.ceil(settings.CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS),
    )
    task = asyncio.get_running_loop().create_task(_release_after_grace(site_ids))
    _later.add(task)
    task.add_done_callback(_later.discard)


async def _release_after_grace(site_ids: list[int]) -> None:
    await asyncio.sleep(settings.CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS)
    try:
        await database_sync_to_async(handoffs_waiting_release)(site_ids=site_ids, grace=False)
    except Exception:
        logger.exception("could not release the waiting conversations of sites %s", site_ids)
