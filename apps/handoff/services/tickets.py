"""Working and ending a ticket: reply, notes, fields, hand back, solve, close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.chat.attachments import StoredFile
from apps.chat.models import Message
from apps.chat.services import (
    OPEN_STATUSES,
    conversation_status_move,
    message_create,
)
from apps.handoff import events
from apps.handoff.mail import reply_email_schedule
from apps.handoff.models import Ticket, TicketNote
from apps.handoff.selectors import ticket_active_for_conversation
from apps.handoff.services.assignment import tickets_autoassign
from apps.handoff.services.common import (
    Status,
    TicketConflict,
    agent_ticket,
    announce,
    assignee_check,
    conversation_get,
    publish_status,
    publish_ticket,
    record,
)
from apps.handoff.sla import business_deadline, business_minutes
from apps.handoff.webhooks import webhook_deliveries_enqueue


def _resolution_clock_resumed(ticket: Ticket, now: dt.datetime) -> dict[str, Any]:
    """The fields that restart the resolution clock of a ticket leaving pending at ``now``.

    The due time moves on by the business time the ticket waited on the visitor, so a ticket
    that was overdue when it was set pending comes back exactly as overdue.
    """
    if ticket.pending_since is None:
        return {}
    changes: dict[str, Any] = {"pending_since": None}
    windows = list(ticket.site.business_hours.all())
    time_zone = ticket.site.time_zone
    paused = business_minutes(
        start=ticket.pending_since, end=now, windows=windows, time_zone=time_zone
    )
    if paused and ticket.resolution_due_at is not None:
        changes["resolution_due_at"] = business_deadline(
            start=ticket.resolution_due_at, minutes=paused, windows=windows, time_zone=time_zone
        )
    return changes


# --- ending a handoff ------------------------------------------------------------------------


def _end(
    ticket_id: int, agent: Any, *, status: str, conversation_to: str, announcement: str
) -> Ticket:
    """Finish the ticket and move its conversation to the bot (hand back) or to closed."""
    ticket = agent_ticket(agent, ticket_id)
    assignee_check(ticket, agent)
    reason = "hand_back" if conversation_to == Status.BOT else status
    conversation_from = (
        [Status.WAITING, Status.AGENT] if conversation_to == Status.BOT else OPEN_STATUSES
    )
    now = timezone.now()
    stamp = {"solved_at": now} if status == Ticket.Status.SOLVED else {"closed_at": now}
    stamp.update(_resolution_clock_resumed(ticket, now))
    with transaction.atomic():
        done = Ticket.objects.filter(
            pk=ticket.pk, status__in=Ticket.ACTIVE, assignee_id=ticket.assignee_id
        ).update(status=status, updated_at=now, **stamp)
        if done != 1:
            raise TicketConflict("changed", "the ticket changed meanwhile; look again")
        conversation = conversation_get(ticket.conversation_id)
        kind = "handoff.handed_back" if conversation_to == Status.BOT else f"handoff.{status}"
        record(conversation, kind, actor=agent, ticket=ticket.pk)
        # A left message's conversation may still be the bot's: then there is nothing to move.
        if conversation_status_move(
            conversation_id=conversation.pk,
            from_statuses=conversation_from,
            to_status=conversation_to,
        ):
            announce(conversation, announcement)
            publish_status(conversation.pk, conversation_to, reason)
        ticket.refresh_from_db()
        if status == Ticket.Status.SOLVED:
            webhook_deliveries_enqueue(site_id=ticket.site_id, event="ticket.solved", ticket=ticket)
        publish_ticket(ticket.pk)
    # The agent has room for another conversation now.
    tickets_autoassign(site_id=ticket.site_id)
    return ticket


def ticket_hand_back(*, ticket_id: int, agent: Any) -> Ticket:
    """Give the conversation back to the bot; the ticket is solved."""
    return _end(
        ticket_id,
        agent,
        status=Ticket.Status.SOLVED,
        conversation_to=Status.BOT,
        announcement="handed_back",
    )


def ticket_solve(*, ticket_id: int, agent: Any) -> Ticket:
    """Solve the ticket and close the conversation.

    The visitor's next message opens a new conversation: a solved one never loops back into
    the queue.
    """
    return _end(
        ticket_id,
        agent,
        status=Ticket.Status.SOLVED,
        conversation_to=Status.CLOSED,
        announcement="closed",
    )


def ticket_close(*, ticket_id: int, agent: Any) -> Ticket:
    """Close the ticket without solving it (spam, duplicate) and close the conversation."""
    return _end(
        ticket_id,
        agent,
        status=Ticket.Status.CLOSED,
        conversation_to=Status.CLOSED,
        announcement="closed",
    )


# --- working a ticket ------------------------------------------------------------------------


def ticket_reply(
    *,
    ticket_id: int,
    agent: Any,
    text: str,
    attachment: StoredFile | None = None,
    client_id: str = "",
) -> Message:
    """Send the visitor the assignee's message; a left message's contact also gets an email,
    unless they read it in the widget first (apps/handoff/mail.py). A ``client_id`` sent
    before raises ``IntegrityError`` and stores nothing."""
    ticket = agent_ticket(agent, ticket_id)
    now = timezone.now()
    with transaction.atomic():
        # Written first: holds the ticket so a transfer cannot land between check and send.
        held = Ticket.objects.filter(
            pk=ticket.pk, assignee=agent, status__in=[Ticket.Status.OPEN, Ticket.Status.PENDING]
        ).update(updated_at=now)
        if held != 1:
            raise TicketConflict("not_assignee", "claim the ticket before replying")
        message = message_create(
            conversation_id=ticket.conversation_id,
            author_kind=Message.AuthorKind.AGENT,
            author_id=agent.pk,
            text=text,
            owner=Status.AGENT,
            attachment=attachment,
            client_id=client_id,
        )
        if ticket.first_responded_at is None:
            Ticket.objects.filter(pk=ticket.pk, first_responded_at__isnull=True).update(
                first_responded_at=now
            )
            publish_ticket(ticket.pk)
        if ticket.channel == Ticket.Channel.MESSAGE and ticket.contact_email:
            reply_email_schedule(ticket_id=ticket.pk)
    return message


def ticket_note_add(*, ticket_id: int, agent: Any, text: str) -> TicketNote:
    """Add an internal note: published to the ticket's team, never to the conversation."""
    ticket = agent_ticket(agent, ticket_id)
    with transaction.atomic():
        note = TicketNote.objects.create(ticket=ticket, author=agent, text=text)
        if ticket.team_id is not None:
            team_id = ticket.team_id
            transaction.on_commit(lambda: events.note_added(note, team_id=team_id))
    return note


def ticket_seen(*, ticket_id: int, agent: Any, seq: int) -> None:
    """Record that ``agent`` had the conversation up to ``seq`` on screen: never backwards,
    never past its last message.

    Only the assignee's screen counts once the ticket has one (a teammate glancing at it must
    not clear what the assignee has not read); before that, anyone's in the team. A ticket
    outside the agent's teams is left alone.
    """
    Ticket.objects.filter(
        Q(assignee__isnull=True) | Q(assignee=agent),
        pk=ticket_id,
        team__members=agent,
        agent_seen_seq__lt=seq,
        conversation__last_seq__gte=seq,
    ).update(agent_seen_seq=seq)


def ticket_update(
    *,
    ticket_id: int,
    agent: Any,
    priority: str | None = None,
    tags: Sequence[str] | None = None,
    pending: bool | None = None,
) -> Ticket:
    """Change a ticket's priority, tags, or whether it waits on the visitor (pending)."""
    ticket = agent_ticket(agent, ticket_id)
    now = timezone.now()
    changes: dict[str, Any] = {"updated_at": now}
    if priority is not None:
        if priority not in Ticket.Priority.values:
            raise TicketConflict("bad_priority", f"priority is one of {Ticket.Priority.values}")
        changes["priority"] = priority
    if tags is not None:
        changes["tags"] = sorted({tag.strip()[:40] for tag in tags if tag.strip()})[:20]
    rows = Ticket.objects.filter(pk=ticket.pk, status__in=Ticket.ACTIVE)
    if pending is not None:
        assignee_check(ticket, agent)
        # Only from the status and assignee read above: the clock fields are worked out from
        # the one, the check was made on the other.
        rows = rows.filter(
            assignee__isnull=False, assignee_id=ticket.assignee_id, status=ticket.status
        )
        if not pending:
            changes.update(status=Ticket.Status.OPEN, **_resolution_clock_resumed(ticket, now))
        elif ticket.status != Ticket.Status.PENDING:
            changes.update(status=Ticket.Status.PENDING, pending_since=now)
    with transaction.atomic():
        if rows.update(**changes) != 1:
            raise TicketConflict(
                "changed",
                "the ticket changed, or is not active and assigned; reload it",
            )
        publish_ticket(ticket.pk)
    ticket.refresh_from_db()
    return ticket


def ticket_visitor_replied(*, conversation_id: int) -> bool:
    """Reopen the conversation's ticket if it was waiting on the visitor: they have answered."""
    ticket = ticket_active_for_conversation(conversation_id=conversation_id)
    if ticket is None or ticket.status != Ticket.Status.PENDING:
        return False
    now = timezone.now()
    with transaction.atomic():
        reopened = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.PENDING).update(
            status=Ticket.Status.OPEN, updated_at=now, **_resolution_clock_resumed(ticket, now)
        )
        if reopened != 1:
            return False
        publish_ticket(ticket.pk)
    return True
