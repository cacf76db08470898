"""The exact events the handoff publishes, heard on the channel layer as a consumer would."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from apps.chat.events import conversation_group
from apps.chat.models import Conversation
from apps.chat.privacy import visitor_erase
from apps.chat.services import (
    conversation_next,
    conversation_open,
    conversation_read,
    message_create,
)
from apps.handoff.details import HandoffDetail
from apps.handoff.events import site_group, team_group
from apps.handoff.models import Ticket
from apps.handoff.services import handoff_request, ticket_claim, ticket_note_add
from apps.handoff.services.presence import agent_availability_set, agent_session_open

pytestmark = [pytest.mark.django_db(transaction=True)]


async def listening(group: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def heard(channel: str, kind: str) -> dict:
    layer = get_channel_layer()
    while True:
        event = await layer.receive(channel)
        if event["type"] == kind:
            return event


@pytest.fixture
def conversation(visitor):
    return conversation_open(visitor=visitor)


async def test_handoff_ticket_event(english, conversation, agent, team):
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    channel = await listening(team_group(team.pk))
    outcome = await database_sync_to_async(handoff_request)(
        conversation_id=conversation.pk,
        reason="missing_knowledge",
        detail=HandoffDetail("unanswered", {"count": 1}),
    )
    ticket = await Ticket.objects.aget(pk=outcome.ticket_id)
    assert await heard(channel, "handoff.ticket") == {
        "type": "handoff.ticket",
        "previous_team_id": None,
        "ticket": {
            "id": ticket.pk,
            "conversation_id": conversation.pk,
            "site": {"id": english.pk, "name": "Shop"},
            "status": "new",
            "priority": "normal",
            "reason": "missing_knowledge",
            "detail": "1 question(s) in a row without a grounded answer",
            "detail_code": "unanswered",
            "detail_values": {"count": 1},
            "channel": "chat",
            "team": {"id": team.pk, "name": "Support"},
            "assignee": None,
            "tags": [],
            "language": "en",
            "subject": "",
            "visitor_name": "",
            "visitor_tag": conversation.visitor.public_id.hex[:6],
            "contact_email": "",
            "created_at": ticket.created_at.isoformat(),
            "updated_at": ticket.updated_at.isoformat(),
            "assigned_at": None,
            "first_response_due_at": ticket.first_response_due_at.isoformat(),
            "first_responded_at": None,
            "resolution_due_at": ticket.resolution_due_at.isoformat(),
            "solved_at": None,
            "faq_id": None,
        },
    }


async def test_handoff_note_event(english, conversation, agent, team):
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    outcome = await database_sync_to_async(handoff_request)(
        conversation_id=conversation.pk, reason="customer_request"
    )
    channel = await listening(team_group(team.pk))
    note = await database_sync_to_async(ticket_note_add)(
        ticket_id=outcome.ticket_id, agent=agent, text="called the warehouse"
    )
    assert await heard(channel, "handoff.note") == {
        "type": "handoff.note",
        "note": {
            "id": note.pk,
            "ticket_id": outcome.ticket_id,
            "author": {"id": agent.pk, "name": "Mei"},
            "text": "called the warehouse",
            "created_at": note.created_at.isoformat(),
        },
    }


async def test_handoff_presence_event(site, agent, team):
    channel = await listening(site_group(site.pk))
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    assert await heard(channel, "handoff.presence") == {
        "type": "handoff.presence",
        "agent": {"id": agent.pk, "name": "Mei", "presence": "online", "team_ids": [team.pk]},
    }
    await database_sync_to_async(agent_availability_set)(user=agent, availability="away")
    assert (await heard(channel, "handoff.presence"))["agent"]["presence"] == "away"


async def test_chat_status_event_names_the_conversation_and_the_reason(
    english, conversation, agent
):
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    channel = await listening(conversation_group(conversation.pk))
    outcome = await database_sync_to_async(handoff_request)(
        conversation_id=conversation.pk, reason="content_filter"
    )
    assert await heard(channel, "chat.status") == {
        "type": "chat.status",
        "conversation_id": conversation.pk,
        "status": "waiting",
        "reason": "content_filter",
    }
    await database_sync_to_async(ticket_claim)(ticket_id=outcome.ticket_id, agent=agent)
    assert await heard(channel, "chat.status") == {
        "type": "chat.status",
        "conversation_id": conversation.pk,
        "status": "agent",
        "reason": "claim",
    }


async def test_chat_handoff_unavailable_event(english, conversation):
    channel = await listening(conversation_group(conversation.pk))
    await database_sync_to_async(handoff_request)(
        conversation_id=conversation.pk, reason="model_unavailable"
    )
    assert await heard(channel, "chat.handoff_unavailable") == {
        "type": "chat.handoff_unavailable",
        "conversation_id": conversation.pk,
        "reason": "nobody_online",
        "opens_at": None,
    }


async def test_chat_continued_event_names_the_closed_and_the_next_conversation(conversation):
    await Conversation.objects.filter(pk=conversation.pk).aupdate(status="closed")
    channel = await listening(conversation_group(conversation.pk))
    following = await database_sync_to_async(conversation_next)(
        visitor=conversation.visitor, closed_id=conversation.pk
    )
    assert await heard(channel, "chat.continued") == {
        "type": "chat.continued",
        "conversation_id": conversation.pk,
        "next_conversation_id": following.pk,
    }


async def test_erasing_the_visitor_publishes_chat_erased_and_handoff_ticket_removed(
    english, conversation, agent, team
):
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    ticket_id = (
        await database_sync_to_async(handoff_request)(
            conversation_id=conversation.pk, reason="customer_request"
        )
    ).ticket_id
    chat_channel = await listening(conversation_group(conversation.pk))
    team_channel = await listening(team_group(team.pk))
    await database_sync_to_async(visitor_erase)(visitor=conversation.visitor)
    assert await heard(chat_channel, "chat.erased") == {
        "type": "chat.erased",
        "conversation_id": conversation.pk,
    }
    assert await heard(team_channel, "handoff.ticket_removed") == {
        "type": "handoff.ticket_removed",
        "ticket_id": ticket_id,
    }


async def test_chat_message_event_carries_the_conversation(english, conversation, agent):
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    channel = await listening(conversation_group(conversation.pk))
    await database_sync_to_async(handoff_request)(
        conversation_id=conversation.pk, reason="customer_request"
    )
    event = await heard(channel, "chat.message")
    message = event["message"]
    assert event == {
        "type": "chat.message",
        "conversation_id": conversation.pk,
        "message": {
            "id": message["id"],
            "seq": 1,
            "author": "system",
            "author_name": "",
            "text": "An agent will join shortly.",
            "citations": [],
            "state": "complete",
            "client_id": None,
            "created_at": message["created_at"],
            "attachment": None,
        },
    }


async def test_chat_read_event_says_how_far_the_visitor_read(conversation):
    await database_sync_to_async(message_create)(
        conversation_id=conversation.pk, author_kind="agent", text="Your parcel left today."
    )
    channel = await listening(conversation_group(conversation.pk))
    await database_sync_to_async(conversation_read)(conversation_id=conversation.pk, seq=1)
    assert await heard(channel, "chat.read") == {
        "type": "chat.read",
        "conversation_id": conversation.pk,
        "seq": 1,
    }
