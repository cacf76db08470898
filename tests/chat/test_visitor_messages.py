"""Storing a visitor's message once per client id (``message_create_from_visitor``)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.chat.models import Conversation, Message
from apps.chat.services import (
    ConversationStatusChanged,
    VisitorMessageResult,
    conversation_next,
    conversation_open,
    message_create,
    message_create_from_visitor,
)
from tests.threads import at_once

pytestmark = pytest.mark.django_db


def fresh(conversation: Conversation) -> Conversation:
    """The conversation as the socket reads it for every message: with its site."""
    return Conversation.objects.select_related("site").get(pk=conversation.pk)


def test_a_resend_returns_the_stored_message_and_allocates_no_seq(visitor):
    conversation = conversation_open(visitor=visitor)
    first = message_create_from_visitor(
        conversation=fresh(conversation), client_id="c-00000001", text="Where is my parcel?"
    )
    again = message_create_from_visitor(
        conversation=fresh(conversation), client_id="c-00000001", text="Where is my parcel?"
    )
    assert (first.created, again.created) == (True, False)
    assert again.message.pk == first.message.pk
    assert fresh(conversation).last_seq == first.message.seq
    assert Message.objects.count() == 1


def test_a_resend_after_the_conversation_closed_is_still_the_stored_message(visitor):
    conversation = conversation_open(visitor=visitor)
    first = message_create_from_visitor(
        conversation=fresh(conversation), client_id="c-00000001", text="Thanks, bye"
    )
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.CLOSED)
    again = message_create_from_visitor(
        conversation=fresh(conversation), client_id="c-00000001", text="Thanks, bye"
    )
    assert (again.created, again.message.pk) == (False, first.message.pk)
    # A new message belongs in the visitor's next conversation.
    with pytest.raises(ConversationStatusChanged):
        message_create_from_visitor(
            conversation=fresh(conversation), client_id="c-00000002", text="One more thing"
        )
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_message_sent_from_four_sockets_at_once_is_stored_once(visitor):
    conversation = conversation_open(visitor=visitor)

    def send() -> VisitorMessageResult:
        return message_create_from_visitor(
            conversation=fresh(conversation), client_id="c-00000001", text="Refund?"
        )

    results = at_once([send] * 4)
    assert sorted(result.created for result in results) == [False, False, False, True]
    assert len({result.message.pk for result in results}) == 1
    # The resends' seq allocations rolled back with their inserts.
    assert fresh(conversation).last_seq == results[0].message.seq == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_tabs_saying_hello_at_once_find_one_conversation(visitor):
    def hello() -> Conversation:
        return conversation_open(visitor=visitor)

    assert len({conversation.pk for conversation in at_once([hello] * 4)}) == 1
    assert Conversation.objects.filter(visitor=visitor).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_tabs_writing_at_once_after_a_close_begin_one_conversation(visitor):
    closed = conversation_open(visitor=visitor)
    Conversation.objects.filter(pk=closed.pk).update(status=Conversation.Status.CLOSED)

    def go_on() -> Conversation:
        return conversation_next(visitor=visitor, closed_id=closed.pk)

    assert len({conversation.pk for conversation in at_once([go_on] * 4)}) == 1
    assert Conversation.objects.filter(visitor=visitor).count() == 2


def test_a_resend_into_the_visitors_next_conversation_returns_the_stored_message(visitor):
    # A tab that sent, lost the ack and came back after the conversation was closed and another
    # tab began the next one.
    closed = conversation_open(visitor=visitor)
    first = message_create_from_visitor(
        conversation=fresh(closed), client_id="c-00000001", text="Hi"
    )
    Conversation.objects.filter(pk=closed.pk).update(status=Conversation.Status.CLOSED)
    following = conversation_next(visitor=visitor, closed_id=closed.pk)
    message_create_from_visitor(
        conversation=fresh(following), client_id="c-00000002", text="Hello again"
    )
    again = message_create_from_visitor(
        conversation=fresh(following), client_id="c-00000001", text="Hi"
    )
    assert (again.message.pk, again.created) == (first.message.pk, False)
    assert Message.objects.filter(conversation=following).count() == 1


def test_a_new_message_costs_three_statements(visitor):
    conversation = fresh(conversation_open(visitor=visitor))
    with CaptureQueriesContext(connection) as statements:
        message_create_from_visitor(conversation=conversation, client_id="c-00000001", text="Hi")
    # The look for a resend in the visitor's closed conversations, the seq allocation
    # (UPDATE … RETURNING) and the INSERT, which a resend's client id in this conversation
    # fails; transaction statements (SAVEPOINT, BEGIN, COMMIT) are not counted.
    executed = [q["sql"] for q in statements.captured_queries]
    assert len([sql for sql in executed if not _transaction_control(sql)]) == 3, executed


def test_publishing_a_new_message_without_a_file_asks_the_database_nothing(
    visitor, django_capture_on_commit_callbacks
):
    conversation = fresh(conversation_open(visitor=visitor))
    with django_capture_on_commit_callbacks() as published:
        message_create_from_visitor(conversation=conversation, client_id="c-00000001", text="Hi")
        message_create(conversation_id=conversation.pk, author_kind="agent", text="Hello")
    with CaptureQueriesContext(connection) as statements:
        for publish in published:
            publish()
    assert (len(published), statements.captured_queries) == (2, [])


def _transaction_control(sql: str) -> bool:
    return sql.split()[0].upper() in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"}
