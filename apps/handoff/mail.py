"""Email an agent's reply to a visitor who left a message, through Django's email backend."""

from __future__ import annotations

import logging

from django.core.mail import EmailMessage

from apps.handoff.models import Ticket
from apps.handoff.texts import text_for

logger = logging.getLogger(__name__)


def reply_email_send(*, ticket_id: int, text: str) -> bool:
    """Send ``text`` to the ticket's contact; call after commit. Return whether it was sent.

    A mail server that refuses is logged, not raised: the reply is stored and the visitor still
    reads it in the widget.
    """
    ticket = Ticket.objects.select_related("site", "assignee").get(pk=ticket_id)
    if not ticket.contact_email:
        return False
    language = ticket.language
    body = f"{text}\n\n--\n{text_for('reply_email_footer', language)}\n"
    email = EmailMessage(
        subject=text_for("reply_email_subject", language, site=ticket.site.name),
        body=body,
        to=[ticket.contact_email],
        headers={"X-Csbot-Ticket": str(ticket.pk)},
    )
    try:
        email.send()
    except OSError:
        logger.exception("could not email the reply to ticket %s", ticket.pk)
        return False
    return True
