"""Webhooks: signed JSON POSTs to a loopback receiver, retried until it answers 2xx."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connections
from django.utils import timezone

from apps.chat.attachments import StoredFile
from apps.chat.services import conversation_open
from apps.handoff.models import Webhook, WebhookDelivery
from apps.handoff.services import handoff_request, ticket_claim, ticket_reply, ticket_solve
from apps.handoff.services.presence import agent_session_open
from apps.handoff.webhooks import RETRY_DELAYS, webhook_deliveries_run_due, webhook_signature
from csbot.lifespan import lifespan

pytestmark = [pytest.mark.django_db(transaction=True)]


@dataclass
class Receiver:
    """A helpdesk on 127.0.0.1 answering each POST with the next scripted status."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            state.arrived.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/csbot"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def handed_over(visitor, agent) -> int:
    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    return handoff_request(conversation_id=conversation.pk, reason="customer_request").ticket_id


def settled(attempts: int) -> WebhookDelivery:
    """The delivery once the background thread has recorded ``attempts`` attempts."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.get()
        if delivery.attempts >= attempts:
            return delivery
        time.sleep(0.02)
    raise AssertionError(f"the delivery was not attempted {attempts} time(s)")


def verify(headers: dict[str, str], body: bytes, secret: str) -> bool:
    fields = dict(part.split("=", 1) for part in headers["X-Csbot-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(fields["v1"], expected.hexdigest())


def test_a_new_ticket_is_posted_signed_to_the_sites_webhook(site, visitor, agent, receiver):
    hook = Webhook.objects.create(site=site, url=receiver.url)
    ticket_id = handed_over(visitor, agent)

    assert receiver.arrived.wait(timeout=10)
    headers, body = receiver.requests[0]
    assert verify(headers, body, hook.secret)
    assert not verify(headers, body, "another secret")
    assert headers["X-Csbot-Event"] == "ticket.created"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    payload = json.loads(body)
    assert payload["event"] == "ticket.created"
    assert payload["site"] == {"key": site.public_key, "name": "Shop"}
    assert (payload["ticket"]["id"], payload["ticket"]["reason"]) == (
        ticket_id,
        "customer_request",
    )
    assert [m["author"] for m in payload["transcript"]] == []
    delivery = settled(attempts=1)
    assert headers["X-Csbot-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    site, visitor, agent, receiver
):
    receiver.statuses = [500, 503]
    Webhook.objects.create(site=site, url=receiver.url, on_ticket_created=True)
    handed_over(visitor, agent)
    assert receiver.arrived.wait(timeout=10)
    delivery = settled(attempts=1)
    first_try = timezone.now()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    assert delivery.next_attempt_at > first_try + dt.timedelta(seconds=RETRY_DELAYS[0] - 2)

    # Not due yet: nothing is posted.
    assert webhook_deliveries_run_due(now=first_try) == 0
    later = first_try + dt.timedelta(seconds=RETRY_DELAYS[0] + 1)
    assert webhook_deliveries_run_due(now=later) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (2, "HTTP 503")
    much_later = later + dt.timedelta(seconds=RETRY_DELAYS[1] + 1)
    assert webhook_deliveries_run_due(now=much_later) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert len(receiver.requests) == 3
    # Each attempt is signed afresh with its own timestamp.
    assert len({headers["X-Csbot-Signature"] for headers, _ in receiver.requests}) == 3


def test_a_receiver_that_never_answers_ends_failed(site, visitor, agent, receiver):
    receiver.statuses = [500] * (len(RETRY_DELAYS) + 1)
    Webhook.objects.create(site=site, url=receiver.url)
    handed_over(visitor, agent)
    settled(attempts=1)
    moment = timezone.now()
    for delay in RETRY_DELAYS:
        moment += dt.timedelta(seconds=delay + 1)
        webhook_deliveries_run_due(now=moment)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", len(RETRY_DELAYS) + 1)
    assert webhook_deliveries_run_due(now=moment + dt.timedelta(days=1)) == 0


def test_solving_posts_ticket_solved_with_the_transcript(site, visitor, agent, receiver):
    hook = Webhook.objects.create(site=site, url=receiver.url, on_ticket_created=False)
    ticket_id = handed_over(visitor, agent)
    ticket_claim(ticket_id=ticket_id, agent=agent)
    assert WebhookDelivery.objects.count() == 0
    ticket_solve(ticket_id=ticket_id, agent=agent)
    assert receiver.arrived.wait(timeout=10)
    headers, body = receiver.requests[0]
    assert verify(headers, body, hook.secret)
    payload = json.loads(body)
    assert payload["event"] == "ticket.solved"
    assert payload["ticket"]["status"] == "solved"
    assert [m["author"] for m in payload["transcript"]] == ["system", "system", "system"]


def test_a_file_in_the_transcript_is_described_without_its_link(site, visitor, agent, receiver):
    Webhook.objects.create(site=site, url=receiver.url, on_ticket_created=False)
    ticket_id = handed_over(visitor, agent)
    ticket_claim(ticket_id=ticket_id, agent=agent)
    invoice = StoredFile(
        path="attachments/2026/12/x.pdf", name="invoice.pdf", content_type="application/pdf", size=9
    )
    ticket_reply(ticket_id=ticket_id, agent=agent, text="", attachment=invoice)
    ticket_solve(ticket_id=ticket_id, agent=agent)
    assert receiver.arrived.wait(timeout=10)
    transcript = json.loads(receiver.requests[0][1])["transcript"]
    [sent] = [m for m in transcript if m["author"] == "agent"]
    # The signed link is the visitor's, for a day; a helpdesk keeps what the file was.
    assert sent["attachment"] == {
        "name": "invoice.pdf",
        "content_type": "application/pdf",
        "size": 9,
    }
    assert all(m["attachment"] is None for m in transcript if m is not sent)


def test_a_delivery_claimed_by_another_worker_is_not_posted_twice(site, receiver):
    delivery = WebhookDelivery.objects.create(
        webhook=Webhook.objects.create(site=site, url=receiver.url),
        event="ticket.created",
        payload={"event": "ticket.created"},
        next_attempt_at=timezone.now(),
        locked_until=timezone.now() + dt.timedelta(seconds=60),
    )
    assert webhook_deliveries_run_due() == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert receiver.requests == []


def test_signature_matches_the_documented_recipe():
    body = b'{"event":"ticket.created"}'
    digest = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhook_signature(secret="s3cret", timestamp=1700000000, body=body) == (
        f"t=1700000000,v1={digest}"
    )


def test_a_starting_worker_posts_deliveries_a_stopped_one_left_due(site, receiver):
    # Due since a worker died between attempts: nobody enqueues anything new.
    WebhookDelivery.objects.create(
        webhook=Webhook.objects.create(site=site, url=receiver.url),
        event="ticket.created",
        payload={"event": "ticket.created"},
        next_attempt_at=timezone.now() - dt.timedelta(minutes=5),
        attempts=1,
    )
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    def retried() -> None:
        try:
            settled(2)
        finally:
            connections.close_all()  # this thread's own connection

    async def receive() -> dict[str, str]:
        if not events[1:]:
            await asyncio.to_thread(retried)  # shut down only once the retry went out
        return events.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    asyncio.run(lifespan({"type": "lifespan"}, receive, send))

    assert WebhookDelivery.objects.get().status == "delivered"
    assert len(receiver.requests) == 1
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
