"""Tell an existing helpdesk about tickets: signed JSON POSTs, stored first, retried with backoff.

A delivery row is written in the transaction that creates or solves the ticket; after commit a
background thread of this process posts it (apps/core/background.py). Each attempt is claimed
with a conditional UPDATE, so several workers never post one delivery twice at once.

Receivers check ``X-Csbot-Signature: t=<unix time>,v1=<hex>``, where ``hex`` is the HMAC-SHA256
of ``"<t>." + body`` with the webhook's secret (docs/handoff.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.chat.events import AttachmentPayload
from apps.chat.selectors import messages_after
from apps.core.background import BackgroundRunner
from apps.handoff.models import Ticket, Webhook, WebhookDelivery
from apps.handoff.selectors import ticket_payload

logger = logging.getLogger(__name__)

# Seconds to wait after the 1st, 2nd… failed attempt; after the last one the delivery failed.
RETRY_DELAYS = (10, 60, 300, 1800, 7200)
CLAIM_SECONDS = 60
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_EVENT_FLAGS = {"ticket.created": "on_ticket_created", "ticket.solved": "on_ticket_solved"}


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Csbot-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _payload(event: str, ticket: Ticket) -> dict[str, Any]:
    transcript = messages_after(conversation_id=ticket.conversation_id, after_seq=0)
    return {
        "event": event,
        "site": {"key": ticket.site.public_key, "name": ticket.site.name},
        "ticket": ticket_payload(ticket),
        "transcript": [
            {
                "seq": message["seq"],
                "author": message["author"],
                "author_name": message["author_name"],
                "text": message["text"],
                "attachment": _file_described(message["attachment"]),
                "created_at": message["created_at"],
            }
            for message in transcript
        ],
    }


def _file_described(attachment: AttachmentPayload | None) -> dict[str, Any] | None:
    """A message's file as a helpdesk records it: what it is, not its link, which is the
    visitor's and stops working after a day while a delivery may be retried for longer."""
    if attachment is None:
        return None
    return {key: attachment[key] for key in ("name", "content_type", "size")}


def webhook_deliveries_enqueue(*, site_id: int, event: str, ticket: Ticket) -> list[int]:
    """Store one delivery per active webhook of the site that wants ``event``; post after commit."""
    hooks = list(
        Webhook.objects.filter(site_id=site_id, is_active=True, **{_EVENT_FLAGS[event]: True})
    )
    if not hooks:
        return []
    payload = _payload(event, ticket)
    now = timezone.now()
    created = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(webhook=hook, event=event, payload=payload, next_attempt_at=now)
        for hook in hooks
    )
    transaction.on_commit(webhook_runner.kick)
    return [delivery.pk for delivery in created]


def webhook_delivery_attempt(
    *, delivery_id: int, client: httpx.Client, now: dt.datetime | None = None
) -> bool:
    """Post one due delivery; return whether this call attempted it (it was due and unclaimed)."""
    now = now or timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
    )
    if claimed != 1:
        return False
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "csbot-webhook/1",
        "X-Csbot-Event": delivery.event,
        "X-Csbot-Delivery": str(delivery.pk),
        "X-Csbot-Signature": webhook_signature(
            secret=delivery.webhook.secret, timestamp=timestamp, body=body
        ),
    }
    status: int | None = None
    error = ""
    try:
        response = client.post(delivery.webhook.url, content=body, headers=headers)
        status = response.status_code
        if not response.is_success:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = delivery.attempts + 1
    changes: dict[str, Any] = {
        "attempts": attempts,
        "response_status": status,
        "last_error": error,
        "locked_until": None,
    }
    if not error:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now())
    elif attempts > len(RETRY_DELAYS):
        changes["status"] = WebhookDelivery.Status.FAILED
        logger.warning("webhook delivery %s failed for good: %s", delivery.pk, error)
    else:
        changes["next_attempt_at"] = now + dt.timedelta(seconds=RETRY_DELAYS[attempts - 1])
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
    return True


def webhook_deliveries_run_due(*, now: dt.datetime | None = None) -> int:
    """Attempt every delivery due at ``now``; return how many were attempted."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).values_list("pk", flat=True)
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        return sum(
            webhook_delivery_attempt(delivery_id=pk, client=client, now=now) for pk in list(due)
        )


def _run_due_then_next() -> dt.datetime | None:
    webhook_deliveries_run_due()
    return (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


# Kicked after a commit that stored deliveries, and at worker start-up for ones left due.
webhook_runner = BackgroundRunner("csbot-webhooks", _run_due_then_next)
