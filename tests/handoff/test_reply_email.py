"""Replies to a left message are emailed together, later, and only the ones the visitor missed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async
from django.core.mail import EmailMessage
from django.utils import timezone

from apps.chat.models import Conversation, Message
from apps.chat.services import conversation_open, conversation_read, message_create
from apps.handoff.mail import (
    RETRY_DELAYS,
    reply_email_runner,
    reply_email_send_due,
    reply_emails_send_due,
)
from apps.handoff.models import Ticket
from apps.handoff.services import ticket_claim, ticket_leave_message, ticket_reply
from apps.handoff.services.presence import agent_session_open
from tests.handoff.sockets import frame_of, visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _two_minutes(settings: object) -> None:
    settings.CSBOT_REPLY_EMAIL_DELAY_SECONDS = 120  # type: ignore[attr-defined]


@pytest.fixture
def ticket(english, visitor, agent) -> Ticket:
    """A left message (nobody was online), claimed by ``agent``."""
    conversation = conversation_open(visitor=visitor)
    left = ticket_leave_message(
        conversation_id=conversation.pk,
        client_id="c-left-0001",
        name="Li Lei",
        email="li@example.com",
        text="My lamp arrived broken, order 1234.",
    )
    agent_session_open(user=agent, channel_name="test.mei")
    return ticket_claim(ticket_id=left.ticket.pk, agent=agent)


def later(minutes: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def emailed(mailoutbox) -> list[str]:
    """Each email's replies, without the footer."""
    return [m.body.split("\n\n--\n")[0] for m in mailoutbox]


@pytest.fixture
def during_the_next_send(monkeypatch):
    """Run an action while the mail server takes the next email, then send it or refuse it."""
    send = EmailMessage.send

    def install(action: Callable[[], object], *, refuse: bool = False) -> None:
        def sending(email: EmailMessage, *args: object, **kwargs: object) -> int:
            monkeypatch.setattr(EmailMessage, "send", send)  # once
            action()
            if refuse:
                raise ConnectionRefusedError("the mail server is down")
            return send(email, *args, **kwargs)

        monkeypatch.setattr(EmailMessage, "send", sending)

    return install


def test_replies_within_the_delay_go_in_one_email_and_later_ones_in_the_next(
    ticket, agent, mailoutbox
):
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="Sorry! A new lamp ships today.")
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="Tracking: SF123.")
    assert reply_emails_send_due() == 0  # not yet due
    assert mailoutbox == []

    assert reply_emails_send_due(now=later(3)) == 1
    [email] = mailoutbox
    assert email.to == ["li@example.com"]
    assert email.subject == "Reply from Shop"
    assert email.body.startswith("Sorry! A new lamp ships today.\n\nTracking: SF123.\n\n--\n")
    assert email.extra_headers["X-Csbot-Ticket"] == str(ticket.pk)
    assert reply_emails_send_due(now=later(10)) == 0  # sent once

    ticket_reply(ticket_id=ticket.pk, agent=agent, text="It arrives on Friday.")
    assert reply_emails_send_due(now=later(6)) == 1
    assert emailed(mailoutbox) == [
        "Sorry! A new lamp ships today.\n\nTracking: SF123.",
        "It arrives on Friday.",
    ]


def test_replies_the_visitor_read_in_the_widget_are_not_emailed(ticket, agent, mailoutbox):
    first = ticket_reply(ticket_id=ticket.pk, agent=agent, text="Are you still there?")
    conversation_read(conversation_id=ticket.conversation_id, seq=first.seq)
    assert reply_emails_send_due(now=later(3)) == 1
    assert mailoutbox == []

    # They left: the next reply is emailed, without the one they read.
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="We refunded the lamp.")
    assert reply_emails_send_due(now=later(3)) == 1
    assert emailed(mailoutbox) == ["We refunded the lamp."]


def test_a_reply_stored_while_its_email_is_being_sent_gets_an_email_of_its_own(
    ticket, agent, mailoutbox, during_the_next_send
):
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="First.")
    # The agent answers again while the mail server is taking the first email.
    during_the_next_send(lambda: ticket_reply(ticket_id=ticket.pk, agent=agent, text="Second."))
    assert reply_emails_send_due(now=later(3)) == 1
    assert reply_emails_send_due(now=later(1)) == 0  # the second one waits its own delay
    assert reply_emails_send_due(now=later(3)) == 1
    assert emailed(mailoutbox) == ["First.", "Second."]


def test_an_email_another_worker_is_sending_is_not_sent_twice(ticket, agent, mailoutbox):
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="Sorry!")
    moment = later(3)
    # Another worker claimed it a moment ago: it now holds the ticket for a while.
    Ticket.objects.filter(pk=ticket.pk).update(reply_email_due_at=moment + dt.timedelta(minutes=5))
    assert reply_email_send_due(ticket_id=ticket.pk, now=moment) is False
    assert mailoutbox == []
    # That worker died: once its hold runs out the email goes.
    assert reply_email_send_due(ticket_id=ticket.pk, now=moment + dt.timedelta(minutes=6))
    assert len(mailoutbox) == 1


def refusing_mail_server(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2


def test_a_refused_email_is_tried_again_and_then_waits_for_the_next_reply(
    ticket, agent, settings, mailoutbox
):
    refusing_mail_server(settings)
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="We are on it.")
    moment = later(3)
    for delay in (*RETRY_DELAYS, None):
        assert reply_emails_send_due(now=moment) == 1  # refused, logged
        due = Ticket.objects.get(pk=ticket.pk).reply_email_due_at
        if delay is None:
            assert due is None  # given up on: the next reply's email carries it
        else:
            assert due == moment + dt.timedelta(seconds=delay)
            moment = due
    assert Message.objects.filter(author_kind="agent", text="We are on it.").exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="It shipped.")
    assert reply_emails_send_due(now=later(3)) == 1
    assert emailed(mailoutbox) == ["We are on it.\n\nIt shipped."]


def test_a_reply_stored_during_the_last_refused_send_still_gets_its_email(
    ticket, agent, mailoutbox, during_the_next_send
):
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="We are on it.")
    Ticket.objects.filter(pk=ticket.pk).update(reply_email_attempts=len(RETRY_DELAYS))
    during_the_next_send(
        lambda: ticket_reply(ticket_id=ticket.pk, agent=agent, text="It shipped."), refuse=True
    )
    assert reply_emails_send_due(now=later(3)) == 1  # refused for the last time: given up
    assert reply_emails_send_due(now=later(6)) == 1  # the reply made meanwhile has its own
    assert emailed(mailoutbox) == ["We are on it.\n\nIt shipped."]


def test_a_server_back_before_the_last_retry_gets_the_email(ticket, agent, settings, mailoutbox):
    refusing_mail_server(settings)
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="We are on it.")
    assert reply_emails_send_due(now=later(3)) == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reply_emails_send_due(now=later(5)) == 1  # the first retry, a minute later
    assert emailed(mailoutbox) == ["We are on it."]
    assert Ticket.objects.get(pk=ticket.pk).reply_email_attempts == 0


def test_a_send_that_outlasted_its_claim_leaves_the_new_claim_alone(
    ticket, agent, mailoutbox, during_the_next_send
):
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="Sorry!")

    def stalled() -> None:
        # So long that the agent wrote again and another worker found the claim run out and
        # emailed both replies.
        ticket_reply(ticket_id=ticket.pk, agent=agent, text="Still there?")
        assert reply_email_send_due(ticket_id=ticket.pk, now=later(10))

    during_the_next_send(stalled)
    assert reply_email_send_due(ticket_id=ticket.pk, now=later(3))
    assert emailed(mailoutbox) == [
        "Sorry!\n\nStill there?",  # the other worker's
        "Sorry!",  # the stalled one's, after five minutes of SMTP
    ]
    # Finishing late, it did not take back what the other worker recorded as sent.
    assert reply_emails_send_due(now=later(30)) == 0
    assert len(mailoutbox) == 2


def test_replies_of_a_later_ticket_are_not_in_an_earlier_tickets_email(ticket, agent, mailoutbox):
    first = ticket_reply(ticket_id=ticket.pk, agent=agent, text="Sorry!")
    Ticket.objects.filter(pk=ticket.pk).update(solved_at=first.created_at)
    message_create(
        conversation_id=ticket.conversation_id, author_kind="agent", text="About your new order…"
    )
    assert reply_emails_send_due(now=later(3)) == 1
    assert emailed(mailoutbox) == ["Sorry!"]


def test_the_background_thread_sends_when_due(ticket, agent, settings, mailoutbox):
    settings.CSBOT_REPLY_EMAIL_DELAY_SECONDS = 0
    ticket_reply(ticket_id=ticket.pk, agent=agent, text="Sorry!")  # kicks the thread on commit
    deadline = time.monotonic() + 10
    while not mailoutbox and time.monotonic() < deadline:
        time.sleep(0.02)
    reply_email_runner.stop()
    assert emailed(mailoutbox) == ["Sorry!"]
    assert Ticket.objects.get(pk=ticket.pk).reply_email_due_at is None


async def test_the_widget_reports_what_it_showed_never_backwards_nor_ahead(visitor):
    widget, ready = await visitor_socket(visitor)
    conversation_id = ready["conversation"]["id"]
    for text in ("Hello!", "How can I help?"):
        await database_sync_to_async(message_create)(
            conversation_id=conversation_id, author_kind="system", text=text
        )
        await frame_of(widget, "message.new")  # the widget can only have shown what it got

    async def read_seq() -> int:
        return (await Conversation.objects.aget(pk=conversation_id)).visitor_read_seq

    await widget.send_json_to({"type": "read", "seq": 2})
    await widget.send_json_to({"type": "read", "seq": 1})  # older: ignored
    await widget.send_json_to({"type": "read", "seq": 3})  # no such message yet: ignored
    await widget.send_json_to({"type": "ping"})
    await frame_of(widget, "pong")
    assert await read_seq() == 2

    await widget.send_json_to({"type": "read", "seq": 0})
    assert (await frame_of(widget, "error"))["code"] == "bad_frame"
    await widget.send_json_to({"type": "read", "seq": "2"})
    assert (await frame_of(widget, "error"))["code"] == "bad_frame"
    await widget.disconnect()


async def test_a_reconnected_widget_reports_what_it_had_shown_before(visitor):
    widget, ready = await visitor_socket(visitor)
    conversation_id = ready["conversation"]["id"]
    reply = await database_sync_to_async(message_create)(
        conversation_id=conversation_id, author_kind="agent", text="It left today."
    )
    await frame_of(widget, "message.new")
    await widget.disconnect()
    # The socket dropped; the widget resumes after the reply it already shows, so this socket
    # never delivers it, and the visitor opens the chat now.
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "resume", "last_seq": reply.seq})
    await frame_of(widget, "resumed")
    await widget.send_json_to({"type": "read", "seq": reply.seq})
    await widget.send_json_to({"type": "ping"})
    await frame_of(widget, "pong")
    stored = await Conversation.objects.aget(pk=conversation_id)
    assert stored.visitor_read_seq == reply.seq
    await widget.disconnect()
