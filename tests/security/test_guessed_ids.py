"""Guessed ids and stale credentials: refused, and nothing of another site changes or leaks.

The rest of this ground is covered where it lives: another team's or site's agent sending any
console frame for a ticket (tests/handoff/test_permissions.py), forged and other-site tokens
(tests/chat/test_consumer.py, test_widget_session.py), rating another visitor's answer or
ticket (tests/analytics/test_frames.py), insights of another site (test_dashboard.py).
"""

from __future__ import annotations

import time

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core import signing

from apps.handoff.models import Team, Ticket
from csbot.asgi import application
from tests.conftest import SITE_ORIGIN, token_for
from tests.handoff.sockets import (
    console_socket,
    frame_of,
    frames_with,
    visitor_socket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


def expired_token_for(visitor, monkeypatch: pytest.MonkeyPatch) -> str:
    """A genuine token, signed a minute longer ago than tokens live."""
    issued_at = time.time() - settings.CSBOT_VISITOR_TOKEN_MAX_AGE - 60
    with monkeypatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: issued_at)
        return token_for(visitor)


async def test_an_expired_token_is_refused_by_the_socket(site, visitor, monkeypatch):
    ws = WebsocketCommunicator(
        application,
        f"/ws/chat/?site={site.public_key}",
        headers=[(b"origin", SITE_ORIGIN.encode())],
    )
    await ws.connect()
    await ws.send_json_to(
        {"type": "hello", "v": 1, "token": expired_token_for(visitor, monkeypatch)}
    )
    assert (await ws.receive_json_from())["code"] == "unauthorized"
    assert (await ws.receive_output())["code"] == 4401


def test_an_expired_token_gets_a_new_visitor_from_the_session_api(
    client, site, visitor, monkeypatch
):
    response = client.post(
        f"/api/widget/{site.public_key}/session",
        {"token": expired_token_for(visitor, monkeypatch)},
        content_type="application/json",
        headers={"origin": SITE_ORIGIN},
    )
    assert response.status_code == 200
    assert response.json()["visitor_id"] != str(visitor.public_id)


async def test_a_ticket_cannot_be_transferred_to_a_guessed_agent_or_team_of_another_site(
    english, other_site, visitor, agent, other_agent
):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    await frames_with(widget, "handoff.ack", "conversation.status")
    ticket_id = (await frame_of(console, "ticket"))["ticket"]["id"]
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket_id})
    await frame_of(console, "result")
    foreign_team = await Team.objects.aget(site=other_site)
    for frame in (
        {"type": "ticket.transfer", "ticket_id": ticket_id, "agent_id": other_agent.pk},
        {"type": "ticket.transfer", "ticket_id": ticket_id, "team_id": foreign_team.pk},
        {"type": "ticket.transfer", "ticket_id": ticket_id, "team_id": 10**9},
    ):
        await console.send_json_to(frame)
        error = await frame_of(console, "error")
        assert error["code"] == "bad_transfer", frame
    ticket = await Ticket.objects.select_related("team").aget(pk=ticket_id)
    assert (ticket.assignee_id, ticket.team.site_id) == (agent.pk, english.pk)
    await console.disconnect()
    await widget.disconnect()


def test_insights_export_of_a_guessed_site_key_is_refused(client, site, other_site, agent):
    client.force_login(agent)
    mine = client.get("/console/insights/export.csv", {"site": site.public_key})
    assert mine.status_code == 200
    theirs = client.get("/console/insights/export.csv", {"site": other_site.public_key})
    assert theirs.status_code == 400
    assert other_site.public_key.encode() not in theirs.content
