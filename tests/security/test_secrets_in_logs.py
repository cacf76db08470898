"""Secrets never reach the logs, even at DEBUG for every logger (httpx and httpcore included).

Each test drives the paths that fail loudly (a provider rejecting or echoing its key, a webhook
receiver failing, a forged or foreign visitor token) and reads everything logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from apps.chat.services import conversation_open
from apps.chat.tokens import visitor_token_issue
from apps.handoff.models import Webhook, WebhookDelivery
from apps.handoff.services import handoff_request
from apps.handoff.services.presence import agent_session_open
from apps.handoff.webhooks import RETRY_DELAYS, webhook_deliveries_run_due
from apps.llm.services import chat_stream, usage_flush
from apps.llm.types import ChatMessage, ChatRequest
from csbot.asgi import application
from tests.conftest import SITE_ORIGIN, token_for
from tests.handoff.sockets import visitor_socket
from tests.llm.loopback import Reply, closed_port_url
from tests.llm.provider_replies import openai_chunk, openai_error

pytestmark = pytest.mark.django_db(transaction=True)

# What tests/llm/fixtures.py's chain() sets as each provider's key.
OPENAI_KEY = "sk-test-openai-0123456789"
DEEPSEEK_KEY = "sk-test-deepseek-0123456789"
LOGGERS = ["", "httpx", "httpcore", "apps", "django", "channels", "asyncio", "urllib3"]


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def assert_absent(log: pytest.LogCaptureFixture, *secrets: str, logged: bool = True) -> None:
    text = log.text + "".join(str(r.args) for r in log.records)
    assert log.records or not logged, "nothing was logged: the test drove no failure"
    for secret in secrets:
        assert secret not in text


@pytest.fixture(autouse=False)
def gateway(fresh_breaker: None, llm_clients_closed: None) -> None:
    """Closed circuits at the start, the loop's clients closed at the end (tests/llm)."""


async def test_provider_keys_stay_out_of_logs_when_providers_fail_and_echo_them(
    gateway, chain, provider, backup, every_log
):
    chain(("openai/gpt-test", provider.url), ("deepseek/ds-test", backup.url))
    echoed = {"x-echo-key": OPENAI_KEY, "www-authenticate": f'Bearer realm="{OPENAI_KEY}"'}
    provider.reply(openai_error(401, f"Incorrect API key provided: {OPENAI_KEY}", headers=echoed))
    backup.reply(
        openai_error(500, f"upstream said {DEEPSEEK_KEY}"),
        openai_error(500, f"upstream said {DEEPSEEK_KEY}"),
        openai_error(500, f"upstream said {DEEPSEEK_KEY}"),
        openai_error(500, f"upstream said {DEEPSEEK_KEY}"),
    )
    request = ChatRequest(messages=(ChatMessage("user", "Where is my parcel?"),))
    events = [event async for event in chat_stream(site_id=None, request=request)]
    assert events
    # A stream whose chunk the dialect cannot read, quoting the key, is logged with its traceback.
    provider.reply(Reply.sse([f'data: {{"choices": "{OPENAI_KEY}"}}\n\n'.encode()]))
    backup.reply(Reply.sse([openai_chunk("fine"), b"data: [DONE]\n\n"]))
    _ = [event async for event in chat_stream(site_id=None, request=request)]
    await usage_flush()
    assert any("unreadable" in r.getMessage() for r in every_log.records)
    assert_absent(every_log, OPENAI_KEY, DEEPSEEK_KEY, settings.SECRET_KEY)


async def test_an_unreachable_provider_logs_no_key(gateway, chain, every_log):
    chain(("openai/gpt-test", closed_port_url()))
    request = ChatRequest(messages=(ChatMessage("user", "Hello?"),))
    _ = [event async for event in chat_stream(site_id=None, request=request)]
    await usage_flush()
    assert_absent(every_log, OPENAI_KEY)


@pytest.fixture
def failing_receiver() -> Iterator[str]:
    """A helpdesk on 127.0.0.1 answering 500 and echoing the request's headers in the body."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = str(dict(self.headers)).encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/csbot"
    server.shutdown()
    server.server_close()


def test_webhook_secrets_stay_out_of_logs_when_every_delivery_fails(
    site, visitor, agent, failing_receiver, every_log
):
    hook = Webhook.objects.create(site=site, url=failing_receiver)
    unreachable = Webhook.objects.create(site=site, url=closed_port_url())
    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    handoff_request(conversation_id=conversation.pk, reason="customer_request")
    moment = timezone.now()
    for delay in (0, *RETRY_DELAYS):
        moment += dt.timedelta(seconds=delay + 1)
        webhook_deliveries_run_due(now=moment)
    deliveries = WebhookDelivery.objects.all()
    assert {d.status for d in deliveries} == {"failed"}
    assert any("failed for good" in r.getMessage() for r in every_log.records)
    assert_absent(every_log, hook.secret, unreachable.secret, settings.SECRET_KEY)
    for delivery in deliveries:
        assert hook.secret not in delivery.last_error


async def test_refused_visitor_tokens_stay_out_of_logs(
    client, site, other_site, visitor, every_log
):
    foreign = visitor_token_issue(
        visitor_public_id=str(visitor.public_id), site_key=other_site.public_key
    )
    forged = token_for(visitor)[:-4] + "AAAA"
    valid = token_for(visitor)
    for token in (foreign, forged, valid):
        response = await database_sync_to_async(client.post)(
            f"/api/widget/{site.public_key}/session",
            {"token": token},
            content_type="application/json",
            headers={"origin": SITE_ORIGIN},
        )
        assert response.status_code == 200
    ws, _ = await visitor_socket(visitor)
    await ws.disconnect()
    for token in (foreign, forged):
        refused = WebsocketCommunicator(
            application,
            f"/ws/chat/?site={site.public_key}",
            headers=[(b"origin", SITE_ORIGIN.encode())],
        )
        await refused.connect()
        await refused.send_json_to({"type": "hello", "v": 1, "token": token})
        assert (await refused.receive_json_from())["code"] == "unauthorized"
        await refused.disconnect()
    assert_absent(every_log, foreign, forged, valid, settings.SECRET_KEY, logged=False)
