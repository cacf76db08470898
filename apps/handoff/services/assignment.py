"""Agents taking tickets: claim, round-robin, transfer."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.chat.services import (
    conversation_status_move,
)
from apps.handoff.models import HandoffSettings, Team, Ticket
from apps.handoff.selectors import (
    agent_presence,
    agent_round_robin_candidates,
    display_name,
    user_is_agent,
)
from apps.handoff.services.common import (
    Status,
    TicketConflict,
    agent_join,
    agent_ticket,
    announce,
    assignee_check,
    conversation_get,
    publish_status,
    publish_ticket,
    record,
)
from apps.handoff.services.stranded import handoff_waiting_release


def ticket_claim(*, ticket_id: int, agent: Any) -> Ticket:
    """Take an unassigned ticket. Of two agents claiming at once exactly one wins."""
    ticket = agent_ticket(agent, ticket_id)
    now = timezone.now()
    with transaction.atomic():
        won = Ticket.objects.filter(
            pk=ticket.pk, assignee__isnull=True, status=Ticket.Status.NEW
        ).update(assignee=agent, status=Ticket.Status.OPEN, assigned_at=now, updated_at=now)
        if won != 1:
            holder = Ticket.objects.select_related("assignee").get(pk=ticket.pk).assignee
            if holder is None:
                raise TicketConflict("not_claimable", "this ticket is no longer waiting")
            name = display_name(holder)
            raise TicketConflict("taken", f"{name} already took this ticket", holder=name)
        agent_join(ticket, agent, via="claim", actor=agent)
    ticket.refresh_from_db()
    return ticket


def tickets_autoassign(*, site_id: int) -> list[int]:
    """Give waiting tickets of a round-robin site to online agents with free capacity.

    Returns the ids of the tickets assigned. Safe on several workers at once: an agent's turn
    and a ticket are each taken with a conditional UPDATE.
    """
    assigned: list[int] = []
    waiting = Ticket.objects.filter(
        site_id=site_id,
        status=Ticket.Status.NEW,
        assignee__isnull=True,
        team__isnull=False,
        site__handoff_settings__assignment=HandoffSettings.Assignment.ROUND_ROBIN,
    ).select_related("team", "site")
    for ticket in waiting.order_by("created_at"):
        team = ticket.team
        if team is None:  # filtered out above; the check tells the type checker
            continue
        for profile in agent_round_robin_candidates(team=team, at=timezone.now()):
            now = timezone.now()
            with transaction.atomic():
                turn = type(profile).objects.filter(
                    pk=profile.pk, last_assigned_at=profile.last_assigned_at
                )
                if turn.update(last_assigned_at=now) != 1:
                    continue  # another worker just gave this agent a ticket: next agent
                took = Ticket.objects.filter(
                    pk=ticket.pk, assignee__isnull=True, status=Ticket.Status.NEW
                ).update(
                    assignee=profile.user,
                    status=Ticket.Status.OPEN,
                    assigned_at=now,
                    updated_at=now,
                )
                if took != 1:
                    transaction.set_rollback(True)
                    break  # claimed meanwhile: the next ticket
                agent_join(ticket, profile.user, via="round_robin", actor=None)
                assigned.append(ticket.pk)
                break
    return assigned


def ticket_transfer(
    *, ticket_id: int, agent: Any, to_agent_id: int | None = None, to_team_id: int | None = None
) -> Ticket:
    """Give the ticket to another agent of its team who is online, or to another team's queue.

    An agent who is away or offline is refused (``agent_offline``); a team's queue always takes
    it (nobody there online: the visitor is offered the leave-a-message form).
    """
    ticket = agent_ticket(agent, ticket_id)
    assignee_check(ticket, agent)
    if to_team_id is not None and to_agent_id is None:
        return _transfer_to_team(ticket, agent, to_team_id)
    if to_agent_id is None or to_team_id is not None:
        raise TicketConflict("bad_transfer", "transfer to an agent or to a team")
    target = ticket.team.members.filter(pk=to_agent_id).first() if ticket.team else None
    if target is None or not user_is_agent(user=target):
        raise TicketConflict("bad_transfer", "that agent is not in this ticket's team")
    now = timezone.now()
    if target.pk != agent.pk and agent_presence(user=target, at=now) != "online":
        # Away or without a console: the visitor would be told someone joined who is not there.
        name = display_name(target)
        raise TicketConflict("agent_offline", f"{name} is not online", agent=name)
    with transaction.atomic():
        moved = Ticket.objects.filter(
            pk=ticket.pk, status__in=Ticket.ACTIVE, assignee_id=ticket.assignee_id
        ).update(assignee=target, status=Ticket.Status.OPEN, assigned_at=now, updated_at=now)
        if moved != 1:
            raise TicketConflict("changed", "the ticket changed meanwhile; look again")
        agent_join(ticket, target, via="transfer", actor=agent)
    ticket.refresh_from_db()
    return ticket


def _transfer_to_team(ticket: Ticket, agent: Any, team_id: int) -> Ticket:
    team = Team.objects.filter(pk=team_id, site_id=ticket.site_id).first()
    if team is None:
        raise TicketConflict("bad_transfer", "no such team on this site")
    now = timezone.now()
    with transaction.atomic():
        moved = Ticket.objects.filter(
            pk=ticket.pk, status__in=Ticket.ACTIVE, assignee_id=ticket.assignee_id
        ).update(
            team=team, assignee=None, status=Ticket.Status.NEW, assigned_at=None, updated_at=now
        )
        if moved != 1:
            raise TicketConflict("changed", "the ticket changed meanwhile; look again")
        conversation = conversation_get(ticket.conversation_id)
        back_to_queue = conversation_status_move(
            conversation_id=conversation.pk,
            from_statuses=[Status.AGENT],
            to_status=Status.WAITING,
        )
        record(
            conversation,
            "handoff.transferred",
            actor=agent,
            team=team.pk,
            from_team=ticket.team_id,
            ticket=ticket.pk,
        )
        announce(conversation, "transferred_team", team=team.name)
        if back_to_queue:
            publish_status(conversation.pk, Status.WAITING, "transfer")
        publish_ticket(ticket.pk, previous_team_id=ticket.team_id)
    if back_to_queue and ticket.pk not in tickets_autoassign(site_id=ticket.site_id):
        # Nobody of that team online: the visitor is offered the form rather than a wait.
        handoff_waiting_release(conversation_id=ticket.conversation_id, grace=False)
    ticket.refresh_from_db()
    return ticket
