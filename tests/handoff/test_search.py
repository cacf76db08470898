"""The console's search finds past tickets of the agent's teams, and nobody else's."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from apps.chat.models import Conversation
from apps.chat.services import conversation_open, message_create, visitor_create
from apps.core import ratelimit
from apps.handoff.consumers import SEARCHES_PER_MINUTE
from apps.handoff.models import Team, Ticket
from apps.handoff.selectors import SEARCH_PAGE_SIZE
from apps.handoff.services import handoff_request, ticket_claim, ticket_solve
from apps.handoff.services.presence import agent_session_open
from tests.handoff.sockets import console_socket, frame_of

pytestmark = [pytest.mark.django_db(transaction=True)]


def ticket_about(site, text: str, *, team: Team | None = None, name: str = "", email: str = ""):
    """A visitor who wrote ``text`` and was handed over (to ``team``, else the site's first)."""
    visitor = visitor_create(site=site)
    visitor.name, visitor.email = name, email
    visitor.save(update_fields=["name", "email"])
    conversation = conversation_open(visitor=visitor)
    message_create(conversation_id=conversation.pk, author_kind="visitor", text="Hello")
    message_create(conversation_id=conversation.pk, author_kind="visitor", text=text)
    message_create(
        conversation_id=conversation.pk, author_kind="visitor", text="I want to talk to a human"
    )
    ticket_id = handoff_request(
        conversation_id=conversation.pk, reason="customer_request"
    ).ticket_id
    if team is not None:
        Ticket.objects.filter(pk=ticket_id).update(team=team)
    return Ticket.objects.get(pk=ticket_id)


def solved(ticket: Ticket, agent) -> Ticket:
    ticket_claim(ticket_id=ticket.pk, agent=agent)
    ticket_solve(ticket_id=ticket.pk, agent=agent)
    return Ticket.objects.get(pk=ticket.pk)


async def search(console, query, **more) -> dict:
    await console.send_json_to({"type": "tickets.search", "query": query, "ref": "s1", **more})
    return await frame_of(console, lambda f: f["type"] in ("tickets.found", "error"))


def found_ids(frame: dict) -> list[int]:
    assert frame["type"] == "tickets.found", frame
    return [ticket["id"] for ticket in frame["tickets"]]


async def test_a_solved_ticket_is_found_by_its_visitor_subject_or_any_message(
    english, agent, rival_agent, other_site, other_agent
):
    def tickets():
        agent_session_open(user=agent, channel_name="test.mei")
        agent_session_open(user=other_agent, channel_name="test.otto")
        lamp = solved(
            ticket_about(english, "My desk LAMP flickers", name="Ann Lee", email="ann@example.com"),
            agent,
        )
        billing = Team.objects.get(name="Billing")
        theirs = ticket_about(english, "lamp invoice", team=billing, name="Ann Lee")
        elsewhere = ticket_about(other_site, "lamp", name="Ann Lee")
        return lamp, theirs, elsewhere

    lamp, theirs, elsewhere = await database_sync_to_async(tickets)()
    mei, _ = await console_socket(agent)
    # A message anywhere in the transcript (not the subject: the greeting before it), the
    # visitor's name or email, case-insensitively; the ticket's own Billing and the other
    # site's tickets match too, and neither is in Mei's teams.
    assert lamp.subject == "My desk LAMP flickers"
    for query in ("lamp", "hello", "  ann lee ", "ANN@EXAMPLE", "desk lamp"):
        frame = await search(mei, query)
        assert found_ids(frame) == [lamp.pk], query
    frame = await search(mei, "Ann")
    assert frame["ref"] == "s1"
    assert frame["next_before_id"] is None
    (ticket,) = frame["tickets"]
    assert (ticket["status"], ticket["visitor_name"], ticket["team"]["name"]) == (
        "solved",
        "Ann Lee",
        "Support",
    )
    assert found_ids(await search(mei, "nothing like it")) == []

    # The found ticket opens, read-only as any ended ticket; the others are not found there.
    await mei.send_json_to({"type": "ticket.open", "ticket_id": lamp.pk})
    assert (await frame_of(mei, "ticket.detail"))["ticket"]["status"] == "solved"
    for other in (theirs, elsewhere):
        await mei.send_json_to({"type": "ticket.open", "ticket_id": other.pk})
        assert (await frame_of(mei, "error"))["code"] == "not_found"

    # Each agent finds their own teams' tickets only.
    wang, _ = await console_socket(rival_agent)
    assert found_ids(await search(wang, "lamp")) == [theirs.pk]
    otto, _ = await console_socket(other_agent)
    assert found_ids(await search(otto, "lamp")) == [elsewhere.pk]
    for console in (mei, wang, otto):
        await console.disconnect()


async def test_results_come_newest_first_a_page_at_a_time(english, visitor, agent, team):
    def many() -> list[int]:
        conversation = Conversation.objects.create(visitor=visitor, site=english)
        return [
            Ticket.objects.create(
                site=english,
                conversation=conversation,
                visitor=visitor,
                team=team,
                status=Ticket.Status.CLOSED,
                reason="customer_request",
                subject=f"parcel {n}",
            ).pk
            for n in range(SEARCH_PAGE_SIZE + 3)
        ]

    ids = await database_sync_to_async(many)()
    mei, _ = await console_socket(agent)
    first = await search(mei, "parcel")
    assert found_ids(first) == ids[::-1][:SEARCH_PAGE_SIZE]
    assert first["next_before_id"] == ids[3]
    rest = await search(mei, "parcel", before_id=first["next_before_id"])
    assert found_ids(rest) == ids[2::-1]
    assert rest["next_before_id"] is None
    await mei.disconnect()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("a", "bad_frame"),  # would match nearly everything
        (" b  ", "bad_frame"),
        ("", "bad_frame"),
        ("x" * 101, "too_long"),
        (7, "bad_frame"),
        ("a\x00b", "bad_frame"),
    ],
)
async def test_a_bad_search_is_refused_naming_the_frame(agent, query, code):
    mei, _ = await console_socket(agent)
    error = await search(mei, query)
    assert (error["type"], error["code"], error["ref"], error["action"]) == (
        "error",
        code,
        "s1",
        "tickets.search",
    )
    assert (await search(mei, "ok", before_id="3"))["code"] == "bad_frame"
    await mei.disconnect()


async def test_searching_past_the_limit_is_refused_within_the_minute(agent, teammate, monkeypatch):
    # One fixed minute: the counter's window cannot roll over halfway.
    frozen = time.time()
    monkeypatch.setattr(ratelimit.time, "time", lambda: frozen)
    mei, _ = await console_socket(agent)
    for _ in range(SEARCHES_PER_MINUTE):
        assert (await search(mei, "lamp"))["type"] == "tickets.found"
    refused = await search(mei, "lamp")
    assert (refused["code"], refused["action"]) == ("rate_limited", "tickets.search")
    # Per agent: a teammate still searches.
    li, _ = await console_socket(teammate)
    assert (await search(li, "lamp"))["type"] == "tickets.found"
    await li.disconnect()
    await mei.disconnect()
