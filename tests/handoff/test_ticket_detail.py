"""Opening a ticket whose visitor is being erased says it is gone, and the console lives on."""

from __future__ import annotations

import pytest

from apps.chat.models import Conversation
from apps.chat.services import conversation_open, message_create
from apps.handoff.models import Ticket
from apps.handoff.selectors import ticket_detail
from apps.handoff.services import handoff_request
from apps.handoff.services.presence import agent_session_open

pytestmark = [pytest.mark.django_db]


def test_a_ticket_read_before_its_conversation_was_erased_has_no_detail(english, visitor, agent):
    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    message_create(conversation_id=conversation.pk, author_kind="visitor", text="Lamp broke")
    outcome = handoff_request(conversation_id=conversation.pk, reason="customer_request")
    # The console's socket read the ticket; the erasure deletes the rest before the detail.
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    Conversation.objects.filter(pk=conversation.pk).delete()
    assert ticket_detail(ticket=ticket) is None
