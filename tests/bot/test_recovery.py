"""The reply lease and the sweep that recovers a dead worker's answer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.bot.services import replies_heartbeat, replies_recover
from apps.chat.models import Conversation, ConversationEvent, Message
from apps.chat.services import (
    conversation_open,
    message_create,
    message_finish,
    visitor_create,
)
from apps.handoff.models import Team, Ticket
from apps.handoff.services.presence import agent_session_open
from tests.conftest import agent_create
from tests.threads import at_once

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def conversation(site, visitor) -> Conversation:
    agent = agent_create("mei", team=Team.objects.create(site=site, name="Support"))
    agent_session_open(user=agent, channel_name="test.mei")
    return conversation_open(visitor=visitor)


def streaming(conversation: Conversation, text: str, *, beat_ago: float) -> Message:
    """A bot answer being streamed whose last heartbeat was ``beat_ago`` seconds ago."""
    message = message_create(
        conversation_id=conversation.pk,
        author_kind=Message.AuthorKind.BOT,
        text="",
        state=Message.State.STREAMING,
        owner=Conversation.Status.BOT,
    )
    assert replies_heartbeat({message.pk: text}) == {message.pk}
    Message.objects.filter(pk=message.pk).update(
        updated_at=timezone.now() - dt.timedelta(seconds=beat_ago)
    )
    return message


def test_an_answer_whose_heartbeat_stopped_is_closed_with_its_saved_text_and_handed_over(
    conversation, settings
):
    settings.CSBOT_REPLY_LEASE_SECONDS = 10
    dead = streaming(conversation, "Refunds take ", beat_ago=11)
    assert replies_recover() == [dead.pk]
    dead.refresh_from_db()
    assert (dead.state, dead.text) == ("interrupted", "Refunds take ")
    conversation.refresh_from_db()
    assert conversation.status == "waiting"
    assert Ticket.objects.get(conversation=conversation).reason == "interrupted"
    assert Message.objects.filter(conversation=conversation, author_kind="system").count() == 1


def test_an_answer_still_beating_is_left_alone(conversation, settings):
    settings.CSBOT_REPLY_LEASE_SECONDS = 10
    alive = streaming(conversation, "Refunds take ", beat_ago=2)
    assert replies_recover() == []
    alive.refresh_from_db()
    assert alive.state == "streaming"
    assert not Ticket.objects.exists()


def test_the_late_worker_can_neither_renew_nor_finish_a_swept_answer(conversation, settings):
    settings.CSBOT_REPLY_LEASE_SECONDS = 10
    slow = streaming(conversation, "Refunds take ", beat_ago=11)
    replies_recover()
    assert replies_heartbeat({slow.pk: "Refunds take 3 days"}) == set()
    assert not message_finish(message=slow, text="Refunds take 3 days [1].", state="complete")
    slow.refresh_from_db()
    assert (slow.state, slow.text) == ("interrupted", "Refunds take ")


def test_a_heartbeat_fails_once_the_conversation_left_the_bot(conversation):
    message = streaming(conversation, "Refunds ", beat_ago=0)
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.AGENT)
    assert replies_heartbeat({message.pk: "Refunds take 3 days"}) == set()
    message.refresh_from_db()
    assert message.text == "Refunds "


def test_one_statement_renews_every_answer_still_held_and_tells_which(conversation, site, settings):
    settings.CSBOT_REPLY_LEASE_SECONDS = 10
    others = [conversation_open(visitor=visitor_create(site=site)) for _ in range(2)]
    held, swept, taken_over = (
        streaming(c, "Refunds ", beat_ago=beat_ago)
        for c, beat_ago in zip([conversation, *others], [2, 11, 2], strict=True)
    )
    replies_recover()
    Conversation.objects.filter(pk=taken_over.conversation_id).update(
        status=Conversation.Status.AGENT
    )
    texts = {held.pk: "Refunds take", swept.pk: "Refunds take 3", taken_over.pk: "Refunds t"}
    with CaptureQueriesContext(connection) as statements:
        assert replies_heartbeat(texts) == {held.pk}
    # One UPDATE for all three and one SELECT telling the renewed apart, not one each.
    assert len(statements) == 2
    assert dict(Message.objects.filter(pk__in=texts).values_list("pk", "text")) == {
        held.pk: "Refunds take",
        swept.pk: "Refunds ",
        taken_over.pk: "Refunds ",
    }


def test_two_workers_sweeping_at_once_close_and_hand_over_once(conversation, settings):
    settings.CSBOT_REPLY_LEASE_SECONDS = 10
    dead = streaming(conversation, "Refunds take ", beat_ago=11)
    closed = at_once([replies_recover] * 2)
    assert sorted(closed) == [[], [dead.pk]]
    assert ConversationEvent.objects.filter(kind="handoff.requested").count() == 1
    assert Ticket.objects.count() == 1
