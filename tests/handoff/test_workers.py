"""The takeover across two real ASGI workers: the visitor on one, the console on the other."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from apps.chat.services import visitor_create
from apps.handoff.models import Team
from apps.sites.models import Site
from tests.chat.test_workers import receive_until
from tests.conftest import agent_create, token_for
from tests.handoff.sockets import session_cookie
from tests.workers import asgi_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

ORIGIN = "https://shop.example.com"


def kind(name: str):
    return lambda frame: frame["type"] == name


def test_an_agent_on_one_worker_takes_over_a_visitor_on_the_other_and_hands_back():
    site = Site.objects.create(name="Shop", allowed_origins=ORIGIN, default_language="en")
    agent = agent_create("mei", team=Team.objects.create(site=site, name="Support"))
    visitor = visitor_create(site=site)
    token, cookie = token_for(visitor), session_cookie(agent)

    async def scenario(visitor_url: str, console_url: str, console_origin: str) -> None:
        async with (
            connect(
                f"{console_url}/ws/console/",
                origin=console_origin,
                additional_headers={"Cookie": cookie},
            ) as console,
            connect(f"{visitor_url}/ws/chat/?site={site.public_key}", origin=ORIGIN) as widget,
        ):
            await receive_until(console, kind("ready"))
            await widget.send(json.dumps({"type": "hello", "v": 1, "token": token}))
            await receive_until(widget, kind("ready"))

            await widget.send(json.dumps({"type": "handoff.request"}))
            assert (await receive_until(widget, kind("handoff.ack")))["state"] == "waiting"
            ticket = (await receive_until(console, kind("ticket")))["ticket"]

            await console.send(json.dumps({"type": "ticket.claim", "ticket_id": ticket["id"]}))
            await receive_until(console, kind("result"))
            status = await receive_until(widget, kind("conversation.status"))
            while status["status"] != "agent":
                status = await receive_until(widget, kind("conversation.status"))

            await console.send(
                json.dumps({"type": "message.send", "ticket_id": ticket["id"], "text": "Mei here"})
            )
            reply = await receive_until(
                widget, lambda f: f["type"] == "message.new" and f["message"]["author"] == "agent"
            )
            assert reply["message"]["text"] == "Mei here"

            await widget.send(
                json.dumps({"type": "message.send", "client_id": "c-worker-01", "text": "Thanks!"})
            )
            heard = await receive_until(
                console,
                lambda f: f["type"] == "message.new" and f["message"]["author"] == "visitor",
            )
            assert heard["message"]["text"] == "Thanks!"

            await console.send(json.dumps({"type": "ticket.hand_back", "ticket_id": ticket["id"]}))
            back = await receive_until(
                widget, lambda f: f["type"] == "conversation.status" and f["status"] == "bot"
            )
            assert back["reason"] == "hand_back"
            await widget.send(
                json.dumps({"type": "message.send", "client_id": "c-worker-02", "text": "Hours?"})
            )
            await receive_until(
                widget,
                lambda f: (
                    f["type"] in {"message.new", "message.done"}
                    and f["message"]["author"] == "bot"
                    and f["message"]["state"] == "complete"
                ),
            )

    with asgi_workers(2) as (first, second):
        asyncio.run(scenario(first.ws_url, second.ws_url, second.http_url))
