"""The only module that publishes console events (tickets, notes, presence) to the channel layer.

Console events go to groups visitors never join: ``console.team.<id>`` for a team's tickets and
notes, ``console.site.<id>`` for the presence of a site's agents, ``console.ticket.<id>`` for the
consoles that have a ticket open (who else is viewing it). What happens inside a
conversation (messages, typing, status) is published by ``apps.chat.events`` to the
conversation's group, which the console joins for the tickets it watches. Call the sync
publishers from ``transaction.on_commit``.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from asgiref.sync import async_to_sync

from apps.chat import events as chat_events
from apps.handoff.models import TicketNote
from apps.handoff.selectors import (
    AgentPayload,
    NotePayload,
    TicketPayload,
    note_payload,
    ticket_payload_get,
)


class TicketEvent(TypedDict):
    type: Literal["handoff.ticket"]
    ticket: TicketPayload
    # The team the ticket left, when it was transferred: its consoles drop it.
    previous_team_id: int | None


class NoteEvent(TypedDict):
    type: Literal["handoff.note"]
    note: NotePayload


class PresenceEvent(TypedDict):
    type: Literal["handoff.presence"]
    agent: AgentPayload


class TicketRemovedEvent(TypedDict):
    """The ticket is gone (erased with its visitor): consoles drop it."""

    type: Literal["handoff.ticket_removed"]
    ticket_id: int


class ViewersEvent(TypedDict):
    """Who views the ticket changed (``apps/handoff/viewers.py``): its consoles read it again."""

    type: Literal["handoff.viewers"]
    ticket_id: int


ConsoleEvent = TicketEvent | NoteEvent | PresenceEvent | TicketRemovedEvent | ViewersEvent


def team_group(team_id: int) -> str:
    return f"console.team.{team_id}"


def site_group(site_id: int) -> str:
    return f"console.site.{site_id}"


def ticket_group(ticket_id: int) -> str:
    """The consoles that have the ticket open."""
    return f"console.ticket.{ticket_id}"


async def _group_send(group: str, event: ConsoleEvent) -> None:
    await chat_events.group_send(group, event)


def ticket_changed(*, ticket_id: int, previous_team_id: int | None = None) -> None:
    """Publish a ticket's current state to its team (and the team it left)."""
    payload = ticket_payload_get(ticket_id=ticket_id)
    event: TicketEvent = {
        "type": "handoff.ticket",
        "ticket": payload,
        "previous_team_id": previous_team_id,
    }
    groups = {team_group(payload["team"]["id"])} if payload["team"] else set()
    if previous_team_id is not None:
        groups.add(team_group(previous_team_id))
    for group in sorted(groups):
        async_to_sync(_group_send)(group, event)


def ticket_removed(*, ticket_id: int, team_id: int) -> None:
    """Take a deleted ticket out of its team's consoles; call from ``transaction.on_commit``."""
    event: TicketRemovedEvent = {"type": "handoff.ticket_removed", "ticket_id": ticket_id}
    async_to_sync(_group_send)(team_group(team_id), event)


def note_added(note: TicketNote, *, team_id: int) -> None:
    """Publish an internal note to the ticket's team only."""
    event: NoteEvent = {"type": "handoff.note", "note": note_payload(note)}
    async_to_sync(_group_send)(team_group(team_id), event)


def presence_changed(*, agent: AgentPayload, site_ids: list[int]) -> None:
    event: PresenceEvent = {"type": "handoff.presence", "agent": agent}
    for site_id in site_ids:
        async_to_sync(_group_send)(site_group(site_id), event)


async def viewers_changed(*, ticket_id: int) -> None:
    """A console opened or left the ticket, or started or stopped typing in it."""
    event: ViewersEvent = {"type": "handoff.viewers", "ticket_id": ticket_id}
    await _group_send(ticket_group(ticket_id), event)
