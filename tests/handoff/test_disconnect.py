"""A console closing while Redis is unreachable still leaves every group it joined."""

from __future__ import annotations

import asyncio
import logging

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.cache.backends.redis import RedisCache

from apps.chat import events as chat_events
from apps.chat.services import conversation_open, message_create
from apps.handoff import events
from apps.handoff.models import AgentSession, Ticket
from apps.handoff.services import handoff_request
from tests.handoff.sockets import console_socket, frame_of
from tests.llm.loopback import closed_port_url

pytestmark = [pytest.mark.django_db(transaction=True)]


def ticket_waiting(visitor) -> Ticket:
    conversation = conversation_open(visitor=visitor)
    message_create(conversation_id=conversation.pk, author_kind="visitor", text="Lamp broke")
    outcome = handoff_request(conversation_id=conversation.pk, reason="customer_request")
    return Ticket.objects.get(pk=outcome.ticket_id)


async def still_in(group: str, channel_name: str) -> bool:
    """Whether a message sent to ``group`` reaches ``channel_name``."""
    layer = get_channel_layer()
    await layer.group_send(group, {"type": "probe.sent"})
    try:
        event = await asyncio.wait_for(layer.receive(channel_name), timeout=0.2)
    except TimeoutError:
        return False
    return event["type"] == "probe.sent"


async def test_a_console_closing_with_redis_down_leaves_every_group_and_logs_why(
    english, visitor, agent, team, monkeypatch, caplog
):
    console, _ = await console_socket(agent)
    channel_name = (await AgentSession.objects.aget(user=agent)).channel_name
    ticket = await database_sync_to_async(ticket_waiting)(visitor)
    # Claimed: the console follows the conversation; open: it views the ticket.
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket.pk, "ref": "c1"})
    await frame_of(console, lambda f: f.get("ref") == "c1")
    await console.send_json_to({"type": "ticket.open", "ticket_id": ticket.pk})
    await frame_of(console, "ticket.viewers")
    groups = [
        events.team_group(team.pk),
        events.site_group(english.pk),
        chat_events.conversation_group(ticket.conversation_id),
        events.ticket_group(ticket.pk),
    ]
    # From here the cache's Redis refuses connections: the agent-left marker, the viewer
    # list. The channel layer (another connection, another server in production) is up.
    redis_url = closed_port_url().replace("http://", "redis://") + "/0"
    monkeypatch.setattr("apps.core.cache._shared", RedisCache(redis_url, {}))

    with caplog.at_level(logging.ERROR, logger="apps.handoff.consumers"):
        await console.disconnect()

    assert [group for group in groups if await still_in(group, channel_name)] == []
    # The database write before the failing one was made; the failures are logged, not hidden.
    assert not await AgentSession.objects.filter(user=agent).aexists()
    failed = [r for r in caplog.records if r.name == "apps.handoff.consumers"]
    assert [r.getMessage() for r in failed] == [
        f"console socket of user {agent.pk} closing: marking the sites left failed",
        f"console socket of user {agent.pk} closing: leaving the ticket on screen failed",
    ]
    assert all(r.exc_info and r.exc_info[0].__name__ == "ConnectionError" for r in failed)


async def test_a_colleague_moving_while_the_cache_is_down_does_not_close_the_console(
    english, visitor, agent, team, monkeypatch
):
    console, _ = await console_socket(agent)
    ticket = await database_sync_to_async(ticket_waiting)(visitor)
    await console.send_json_to({"type": "ticket.open", "ticket_id": ticket.pk})
    await frame_of(console, "ticket.viewers")
    redis_url = closed_port_url().replace("http://", "redis://") + "/0"
    monkeypatch.setattr("apps.core.cache._shared", RedisCache(redis_url, {}))

    # Who views the ticket cannot be read: the console skips it and keeps serving the agent.
    await events.viewers_changed(ticket_id=ticket.pk)
    await console.send_json_to({"type": "ping"})
    await frame_of(console, "pong")
    await console.disconnect()
