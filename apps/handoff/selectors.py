"""Reads for the console and the state machine: who is an agent, what they may see, who is in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypedDict

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.bot.normalise import is_affirmative, is_decline
from apps.chat.models import Attachment, Conversation, ConversationEvent, Message, Visitor
from apps.chat.selectors import messages_after
from apps.core.memo import site_settings
from apps.handoff.models import (
    AgentProfile,
    AgentSession,
    CannedReply,
    HandoffSettings,
    Team,
    Ticket,
    TicketNote,
)
from apps.handoff.sla import business_deadline
from apps.handoff.triggers import is_bare_request
from apps.sites.models import Site
from apps.sites.selectors import site_is_open

AGENTS_GROUP = "Agents"
# The console pings every 25 s; a session silent for longer than this died with its worker.
PRESENCE_TIMEOUT = dt.timedelta(seconds=75)
TRANSCRIPT_LIMIT = 500
# Tickets a console search returns at a time.
SEARCH_PAGE_SIZE = 20


class Person(TypedDict):
    id: int
    name: str


class TicketPayload(TypedDict):
    id: int
    conversation_id: int
    site: Person
    status: str
    priority: str
    reason: str
    detail: str
    detail_code: str
    detail_values: dict[str, Any]
    channel: str
    team: Person | None
    assignee: Person | None
    tags: list[str]
    language: str
    subject: str
    visitor_name: str
    visitor_tag: str
    contact_email: str
    created_at: str
    updated_at: str
    assigned_at: str | None
    first_response_due_at: str | None
    first_responded_at: str | None
    resolution_due_at: str | None
    solved_at: str | None
    faq_id: int | None


class QueueTicketPayload(TicketPayload):
    # The visitor's messages since the ticket came in that its assignee (unassigned: anyone of
    # the team) has not had on screen.
    unread: int
    # The conversation's latest message of the visitor, the bot or an agent ("" if none): the
    # console filters its queue on it too.
    last_message: str


class NotePayload(TypedDict):
    id: int
    ticket_id: int
    author: Person | None
    text: str
    created_at: str


class AgentPayload(TypedDict):
    id: int
    name: str
    presence: str
    team_ids: list[int]


def display_name(user: Any) -> str:
    return user.get_short_name() or user.get_username()


def visitor_tag(visitor: Visitor) -> str:
    """A short stable tag for a visitor who gave no name: the console shows "Visitor <tag>"
    in the agent's language."""
    return visitor.public_id.hex[:6]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _person(user: Any) -> Person | None:
    return None if user is None else {"id": user.pk, "name": display_name(user)}


# --- agents ----------------------------------------------------------------------------------


def user_is_agent(*, user: Any) -> bool:
    """Staff users in the Agents group use the console."""
    if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
        return False
    return user.groups.filter(name=AGENTS_GROUP).exists()


def user_opens_attachments(*, user: Any) -> bool:
    """Admins and agents fetch attachments with their session (``attachment_for_staff`` says
    which ones); everyone else needs a visitor's signed URL."""
    return (user.is_active and user.is_superuser) or user_is_agent(user=user)


def attachment_for_staff(*, user: Any, attachment_id: int) -> Attachment | None:
    """The attachment if ``user`` may see its conversation: an admin, or an agent of a team
    holding a ticket of it. ``None`` for anyone else, whether it exists or not."""
    if not user_opens_attachments(user=user):
        return None
    attachments = Attachment.objects.filter(pk=attachment_id)
    if not user.is_superuser:
        visible = Ticket.objects.filter(
            conversation_id=OuterRef("message__conversation_id"), team__members=user
        )
        attachments = attachments.filter(Exists(visible))
    return attachments.first()


def agent_team_ids(*, user: Any) -> list[int]:
    return list(Team.objects.filter(members=user).values_list("pk", flat=True))


def team_member_ids(*, team_id: int) -> list[int]:
    memberships = Team.members.through.objects.filter(team_id=team_id)
    return list(memberships.values_list("user_id", flat=True))


def agent_site_ids(*, user: Any) -> list[int]:
    return list(Team.objects.filter(members=user).values_list("site_id", flat=True).distinct())


def _present_sessions(at: dt.datetime) -> QuerySet[AgentSession]:
    return AgentSession.objects.filter(seen_at__gte=at - PRESENCE_TIMEOUT)


def agents_online(*, team: Team, at: dt.datetime) -> QuerySet[Any]:
    """The team's agents with a live console who said they are available."""
    return (
        team.members.filter(
            is_active=True,
            is_staff=True,
            groups__name=AGENTS_GROUP,
            agent_sessions__in=_present_sessions(at),
        )
        .filter(
            Q(agent_profile__isnull=True)
            | Q(agent_profile__availability=AgentProfile.Availability.ONLINE)
        )
        .distinct()
    )


def agent_presence(*, user: Any, at: dt.datetime) -> str:
    """``online``, ``away`` or ``offline`` (no live console)."""
    if not _present_sessions(at).filter(user=user).exists():
        return "offline"
    profile = AgentProfile.objects.filter(user=user).first()
    return profile.availability if profile is not None else AgentProfile.Availability.ONLINE


def agents_of_sites(*, site_ids: list[int], at: dt.datetime) -> list[AgentPayload]:
    """Everyone on the teams of these sites, with presence: the console's transfer list."""
    teams = Team.objects.filter(site_id__in=site_ids).prefetch_related("members")
    people: dict[int, AgentPayload] = {}
    for team in teams:
        for user in team.members.all():
            entry = people.setdefault(
                user.pk, {"id": user.pk, "name": display_name(user), "presence": "", "team_ids": []}
            )
            entry["team_ids"].append(team.pk)
    present = set(
        _present_sessions(at).filter(user_id__in=people).values_list("user_id", flat=True)
    )
    away = set(
        AgentProfile.objects.filter(
            user_id__in=people, availability=AgentProfile.Availability.AWAY
        ).values_list("user_id", flat=True)
    )
    for user_id, entry in people.items():
        if user_id not in present:
            entry["presence"] = "offline"
        else:
            entry["presence"] = "away" if user_id in away else "online"
    return sorted(people.values(), key=lambda entry: entry["name"].casefold())


def agent_round_robin_candidates(*, team: Team, at: dt.datetime) -> list[AgentProfile]:
    """Online agents of the team with free capacity, the longest since an assignment first."""
    # Every agent with a console has a profile: opening the console's socket creates it.
    online = list(agents_online(team=team, at=at).values_list("pk", flat=True))
    profiles = AgentProfile.objects.filter(user_id__in=online).annotate(
        load=Count(
            "user__assigned_tickets",
            filter=Q(
                user__assigned_tickets__status__in=[Ticket.Status.OPEN, Ticket.Status.PENDING]
            ),
        )
    )
    free = [profile for profile in profiles if profile.load < profile.capacity]
    return sorted(
        free,
        key=lambda p: (p.last_assigned_at is not None, p.last_assigned_at or at, p.user_id),
    )


# --- sites -----------------------------------------------------------------------------------


def handoff_settings_get(*, site: Site) -> HandoffSettings:
    """The site's handoff settings; the defaults (unsaved) when the admin set none. Kept a
    second, read-only (``apps/core/memo.py``)."""

    def load() -> HandoffSettings:
        found = HandoffSettings.objects.filter(site=site).select_related("default_team").first()
        return found if found is not None else HandoffSettings(site=site)

    return site_settings.get(("handoff", site.pk), load)


def team_for_new_ticket(*, site: Site, policy: HandoffSettings) -> Team | None:
    default = policy.default_team
    if default is not None and default.site_id == site.pk:
        return default
    return Team.objects.filter(site=site).order_by("pk").first()


@dataclass(frozen=True)
class Availability:
    ok: bool
    # "outside_hours" or "nobody_online" when not ok.
    reason: str = ""
    opens_at: dt.datetime | None = None


def handoff_availability(*, site: Site, team: Team | None, at: dt.datetime) -> Availability:
    """Whether a human can take a conversation now: business hours, then an online agent."""
    if not site_is_open(site=site, at=at):
        opens_at = business_deadline(
            start=at, minutes=0, windows=list(site.business_hours.all()), time_zone=site.time_zone
        )
        return Availability(ok=False, reason="outside_hours", opens_at=opens_at)
    if team is None or not agents_online(team=team, at=at).exists():
        return Availability(ok=False, reason="nobody_online")
    return Availability(ok=True)


def handoff_possible(*, site_id: int, at: dt.datetime) -> bool:
    """Whether a conversation of the site handed over now reaches a person, rather than the
    offer to leave a message."""
    return _site_availability(site_id=site_id, at=at).ok


def _site_availability(*, site_id: int, at: dt.datetime) -> Availability:
    site = Site.objects.get(pk=site_id)
    team = team_for_new_ticket(site=site, policy=handoff_settings_get(site=site))
    return handoff_availability(site=site, team=team, at=at)


def handoff_unavailable_told(*, conversation_id: int, why: str) -> bool:
    """Whether the visitor was told nobody can come (for ``why``) and nothing of handoff has
    happened since: the same unavailability, not to be announced again."""
    latest = (
        ConversationEvent.objects.filter(
            conversation_id=conversation_id, kind__startswith="handoff."
        )
        .order_by("-created_at", "-pk")
        .values_list("kind", "data")
        .first()
    )
    return latest is not None and latest[0] == "handoff.unavailable" and latest[1].get("why") == why


def handoff_nobody_told(*, site_id: int, conversation_id: int, at: dt.datetime) -> bool:
    """Whether nobody can take the conversation now and its visitor was told so already: the
    bot then offers no person, and points to the form."""
    availability = _site_availability(site_id=site_id, at=at)
    return not availability.ok and handoff_unavailable_told(
        conversation_id=conversation_id, why=availability.reason
    )


# --- tickets ---------------------------------------------------------------------------------


def _tickets() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("site", "team", "assignee", "visitor")


def ticket_get_for_agent(*, user: Any, ticket_id: int) -> Ticket | None:
    """The ticket if one of the agent's teams holds it; ``None`` otherwise (also if it exists)."""
    return _tickets().filter(pk=ticket_id, team__members=user).first()


def tickets_for_agent(*, user: Any) -> list[QueueTicketPayload]:
    """The active tickets of the agent's teams, oldest first: the console's queue."""
    unread = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            author_kind=Message.AuthorKind.VISITOR,
            created_at__gte=OuterRef("created_at"),
            seq__gt=OuterRef("agent_seen_seq"),
        )
        .order_by()
        .values("conversation_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    last = (
        Message.objects.filter(conversation_id=OuterRef("conversation_id"))
        .exclude(author_kind=Message.AuthorKind.SYSTEM)
        .order_by("-seq")
    )
    rows = (
        _tickets()
        .filter(team__members=user, status__in=Ticket.ACTIVE)
        .annotate(
            unread=Coalesce(Subquery(unread), 0),
            last_message=Subquery(last.values("text")[:1]),
            last_file=Subquery(last.values("attachment__name")[:1]),
        )
        .order_by("created_at")
    )
    return [
        {
            **ticket_payload(ticket),
            "unread": ticket.unread,
            "last_message": _preview(ticket.last_message, ticket.last_file),
        }
        for ticket in rows
    ]


def _preview(text: str | None, file_name: str | None) -> str:
    """A message's text, or a file sent alone by its name, as the console shows it live."""
    return text or (f"📎 {file_name}" if file_name else "")


class TicketSearchPage(TypedDict):
    tickets: list[TicketPayload]
    # Ask again with ``before_id`` this for the next page; ``None`` on the last one.
    next_before_id: int | None


def tickets_search(*, user: Any, query: str, before_id: int | None = None) -> TicketSearchPage:
    """The tickets of the agent's teams, closed ones included, whose visitor's name or email,
    subject or any message contains ``query`` (case-insensitive), newest first, a page at a time.

    Only tickets the agent could open (``ticket_get_for_agent``): never another team's, nor
    another site's.
    """
    in_messages = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"), text__icontains=query
    )
    rows = (
        _tickets()
        .filter(team__members=user)
        .filter(
            Q(contact_name__icontains=query)
            | Q(contact_email__icontains=query)
            | Q(visitor__name__icontains=query)
            | Q(visitor__email__icontains=query)
            | Q(subject__icontains=query)
            | Exists(in_messages)
        )
    )
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    page = list(rows.order_by("-pk")[: SEARCH_PAGE_SIZE + 1])
    more = len(page) > SEARCH_PAGE_SIZE
    page = page[:SEARCH_PAGE_SIZE]
    return {
        "tickets": [ticket_payload(ticket) for ticket in page],
        "next_before_id": page[-1].pk if more else None,
    }


def visitor_left_contact(*, visitor_id: int) -> dict[str, str]:
    """The name and email the visitor typed into their latest left message ("" if none).

    Not what the host page gave ``identify()``: that belongs to the page's signed-in user, who
    may have signed out of this browser since.
    """
    latest = (
        Ticket.objects.filter(visitor_id=visitor_id, channel=Ticket.Channel.MESSAGE)
        .order_by("-created_at")
        .values("contact_name", "contact_email")
        .first()
    )
    latest = latest or {"contact_name": "", "contact_email": ""}
    return {"name": latest["contact_name"], "email": latest["contact_email"]}


def ticket_active_for_conversation(*, conversation_id: int) -> Ticket | None:
    return Ticket.objects.filter(conversation_id=conversation_id, status__in=Ticket.ACTIVE).first()


def ticket_payload(ticket: Ticket) -> TicketPayload:
    return {
        "id": ticket.pk,
        "conversation_id": ticket.conversation_id,
        "site": {"id": ticket.site_id, "name": ticket.site.name},
        "status": ticket.status,
        "priority": ticket.priority,
        "reason": ticket.reason,
        "detail": ticket.detail,
        "detail_code": ticket.detail_code,
        "detail_values": ticket.detail_values,
        "channel": ticket.channel,
        "team": None if ticket.team is None else {"id": ticket.team.pk, "name": ticket.team.name},
        "assignee": _person(ticket.assignee),
        "tags": list(ticket.tags),
        "language": ticket.language,
        "subject": ticket.subject,
        # "" when the visitor gave none: the console names them by visitor_tag.
        "visitor_name": ticket.contact_name or ticket.visitor.name or ticket.visitor.email,
        "visitor_tag": visitor_tag(ticket.visitor),
        "contact_email": ticket.contact_email or ticket.visitor.email,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "assigned_at": _iso(ticket.assigned_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "first_responded_at": _iso(ticket.first_responded_at),
        "resolution_due_at": _iso(ticket.resolution_due_at),
        "solved_at": _iso(ticket.solved_at),
        "faq_id": ticket.faq_entry_id,
    }


def ticket_payload_get(*, ticket_id: int) -> TicketPayload:
    return ticket_payload(_tickets().get(pk=ticket_id))


def note_payload(note: TicketNote) -> NotePayload:
    return {
        "id": note.pk,
        "ticket_id": note.ticket_id,
        "author": _person(note.author),
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }


def ticket_detail(*, ticket: Ticket) -> dict[str, Any] | None:
    """Everything the console shows for one ticket: transcript, notes, visitor, history.

    ``None`` when the conversation is gone: its visitor was erased since the ticket was read.
    """
    conversation = (
        Conversation.objects.select_related("visitor").filter(pk=ticket.conversation_id).first()
    )
    if conversation is None:
        return None
    visitor = conversation.visitor
    notes = TicketNote.objects.filter(ticket=ticket).select_related("author")
    history = ConversationEvent.objects.filter(conversation=conversation).select_related("actor")
    previous = (
        Ticket.objects.filter(visitor=visitor).exclude(pk=ticket.pk).order_by("-created_at")[:10]
    )
    return {
        "ticket": ticket_payload(ticket),
        "conversation": {
            "id": conversation.pk,
            "status": conversation.status,
            # Agents' replies up to here were on the visitor's screen (the widget's `read`).
            "visitor_read_seq": conversation.visitor_read_seq,
        },
        "messages": messages_after(
            conversation_id=conversation.pk, after_seq=0, limit=TRANSCRIPT_LIMIT
        ),
        "notes": [note_payload(note) for note in notes],
        "events": [
            {
                "kind": event.kind,
                "actor": _person(event.actor),
                "data": event.data,
                "created_at": event.created_at.isoformat(),
            }
            for event in history
        ],
        "visitor": {
            "id": str(visitor.public_id),
            "name": visitor.name,
            "email": visitor.email,
            "external_id": visitor.external_id,
            "language": visitor.language,
            "created_at": visitor.created_at.isoformat(),
            "last_seen_at": _iso(visitor.last_seen_at),
            "page": {"url": visitor.page_url, "title": visitor.page_title},
            "conversations": visitor.conversations.count(),
            "previous_tickets": [
                {"id": t.pk, "subject": t.subject, "status": t.status} for t in previous
            ],
        },
    }


# How far back a ticket's subject looks for the visitor's question.
_SUBJECT_LOOKBACK = 50


def _visitor_messages_latest_first(conversation_id: int) -> QuerySet[Message]:
    return Message.objects.filter(
        conversation_id=conversation_id, author_kind=Message.AuthorKind.VISITOR
    ).order_by("-seq")


def visitor_question_latest(*, conversation_id: int, request_phrases: list[str]) -> Message | None:
    """The visitor's latest real question: their latest message that is not only a request for
    a person ("talk to a human", "转人工"), a yes or no to the bot's offer of one, or a file
    sent without words; None when every message is such a one.
    """
    for message in _visitor_messages_latest_first(conversation_id)[:_SUBJECT_LOOKBACK]:
        text = message.text
        if not text.strip():
            continue  # a file alone: the question is in the words around it
        if not (is_bare_request(text, request_phrases) or is_affirmative(text) or is_decline(text)):
            return message
    return None


def ticket_subject_message(*, conversation_id: int, request_phrases: list[str]) -> Message | None:
    """What the agent triages on: the visitor's latest real question
    (``visitor_question_latest``); when they asked none, their latest message.
    """
    question = visitor_question_latest(
        conversation_id=conversation_id, request_phrases=request_phrases
    )
    return question or _visitor_messages_latest_first(conversation_id).first()


def canned_replies_for(*, site_ids: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "id": reply.pk,
            "site_id": reply.site_id,
            "language": reply.language,
            "shortcut": reply.shortcut,
            "title": reply.title,
            "text": reply.text,
        }
        for reply in CannedReply.objects.filter(site_id__in=site_ids)
    ]


def teams_of_sites(*, site_ids: list[int]) -> list[dict[str, Any]]:
    return [
        {"id": team.pk, "name": team.name, "site_id": team.site_id}
        for team in Team.objects.filter(site_id__in=site_ids)
    ]
