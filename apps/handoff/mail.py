"""Email a left message's replies to the visitor, unless they read them in the widget first.

An agent's reply to a left message makes one email of the ticket due
``CSBOT_REPLY_EMAIL_DELAY_SECONDS`` later; replies sent meanwhile go in the same email. When it is
due, a background thread (apps/core/background.py) sends the replies the visitor's widget has not
shown on screen (``Conversation.visitor_read_seq``): a visitor watching the chat gets no email, one
who left gets every reply, once.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.chat.models import Message
from apps.core.background import BackgroundRunner
from apps.handoff.models import Ticket
from apps.handoff.texts import text_for

logger = logging.getLogger(__name__)

# A worker sending an email holds the ticket this long from its claim (far above the SMTP
# timeout, CSBOT_EMAIL_TIMEOUT); one that died meanwhile leaves the email due again after it.
CLAIM_SECONDS = 300
# A refused send is tried again after these many seconds; after the last, the replies wait
# for the next reply's email.
RETRY_DELAYS = (60, 600, 3600)


def reply_email_schedule(*, ticket_id: int) -> None:
    """Make the ticket's reply email due; call in the transaction storing an agent's reply."""
    due = timezone.now() + dt.timedelta(seconds=settings.CSBOT_REPLY_EMAIL_DELAY_SECONDS)
    Ticket.objects.filter(pk=ticket_id, reply_email_due_at__isnull=True).update(
        reply_email_due_at=due
    )
    transaction.on_commit(reply_email_runner.kick)


def _replies_after(ticket: Ticket, seq: int) -> list[tuple[int, str]]:
    """The agents' replies of this ticket after ``seq``: not a later ticket's in the same
    conversation (after a hand-back)."""
    replies = Message.objects.filter(
        conversation_id=ticket.conversation_id,
        author_kind=Message.AuthorKind.AGENT,
        created_at__gte=ticket.created_at,
        seq__gt=seq,
    )
    ended = ticket.solved_at or ticket.closed_at
    if ended is not None:
        replies = replies.filter(created_at__lte=ended)
    rows = replies.order_by("seq").values_list("seq", "text", "attachment__name")
    # A file goes by its name: the visitor opens it in the chat (its links expire).
    return [
        (seq, "\n".join(filter(None, [text, name and f"📎 {name}"]))) for seq, text, name in rows
    ]


def _send(ticket: Ticket, texts: list[str]) -> bool:
    language = ticket.language
    body = "\n\n".join(texts) + f"\n\n--\n{text_for('reply_email_footer', language)}\n"
    email = EmailMessage(
        subject=text_for("reply_email_subject", language, site=ticket.site.name),
        body=body,
        to=[ticket.contact_email],
        headers={"X-Csbot-Ticket": str(ticket.pk)},
    )
    try:
        email.send()
    except (OSError, ValueError):
        # A mail server that refuses or is unreachable (OSError, smtplib's errors included), a
        # header Django will not send (BadHeaderError): the replies are stored, and the visitor
        # still reads them in the widget.
        logger.exception("could not email the replies of ticket %s", ticket.pk)
        return False
    return True


def reply_email_send_due(*, ticket_id: int, now: dt.datetime | None = None) -> bool:
    """Email the ticket's unread replies if due; return whether this call took the email."""
    now = now or timezone.now()
    ticket = (
        Ticket.objects.select_related("site", "conversation")
        .filter(pk=ticket_id, reply_email_due_at__lte=now)
        .first()
    )
    if ticket is None:
        return False
    # Counted from the claim itself, not from when the batch began: sending the emails before
    # this one may have taken a while.
    lease = max(now, timezone.now()) + dt.timedelta(seconds=CLAIM_SECONDS)
    claimed = Ticket.objects.filter(
        pk=ticket.pk, reply_email_due_at=ticket.reply_email_due_at
    ).update(reply_email_due_at=lease)
    if claimed != 1:
        return False
    unread = _replies_after(
        ticket, max(ticket.reply_emailed_seq, ticket.conversation.visitor_read_seq)
    )
    sent = bool(unread) and bool(ticket.contact_email)
    if sent and not _send(ticket, [text for _, text in unread]):
        _retry_or_give_up(ticket, lease, now, sent_through=unread[-1][0])
        return True
    emailed_through = unread[-1][0] if sent else ticket.reply_emailed_seq
    looked_through = unread[-1][0] if unread else emailed_through
    with transaction.atomic():
        # Written first: it waits for a reply being stored now (ticket_reply holds the row), so
        # the check below sees every reply whose own scheduling found this email claimed. Only
        # while the lease is this call's: a send that outlasted it was taken over.
        held = Ticket.objects.filter(pk=ticket.pk, reply_email_due_at=lease).update(
            reply_email_due_at=None,
            reply_emailed_seq=max(emailed_through, ticket.reply_emailed_seq),
            reply_email_attempts=0,
        )
        if not held:
            logger.warning("the reply email of ticket %s outlasted its claim", ticket.pk)
        elif _replies_after(ticket, looked_through):
            reply_email_schedule(ticket_id=ticket.pk)
    return True


def _retry_or_give_up(
    ticket: Ticket, lease: dt.datetime, now: dt.datetime, *, sent_through: int
) -> None:
    attempts = ticket.reply_email_attempts + 1
    retry_at = (
        now + dt.timedelta(seconds=RETRY_DELAYS[attempts - 1])
        if attempts <= len(RETRY_DELAYS)
        else None  # the next reply's email carries these replies again
    )
    with transaction.atomic():
        held = Ticket.objects.filter(pk=ticket.pk, reply_email_due_at=lease).update(
            reply_email_due_at=retry_at, reply_email_attempts=attempts if retry_at else 0
        )
        # Given up on, but a reply stored during the send found the email claimed: that
        # reply is the next one, and its email carries these.
        if held and retry_at is None and _replies_after(ticket, sent_through):
            reply_email_schedule(ticket_id=ticket.pk)


def reply_emails_send_due(*, now: dt.datetime | None = None) -> int:
    """Send every reply email due at ``now``; return how many tickets this call took."""
    now = now or timezone.now()
    taken = 0
    for pk in list(Ticket.objects.filter(reply_email_due_at__lte=now).values_list("pk", flat=True)):
        try:
            taken += reply_email_send_due(ticket_id=pk, now=now)
        except DatabaseError:
            # One ticket's trouble must not hold back the others' emails; its lease runs out
            # and it is tried again.
            logger.exception("the reply email of ticket %s failed", pk)
    return taken


def _send_due_then_next() -> dt.datetime | None:
    reply_emails_send_due()
    return (
        Ticket.objects.filter(reply_email_due_at__isnull=False)
        .order_by("reply_email_due_at")
        .values_list("reply_email_due_at", flat=True)
        .first()
    )


# Kicked after a reply to a left message commits, and at worker start-up for emails left due.
reply_email_runner = BackgroundRunner("csbot-reply-emails", _send_due_then_next)
