"""Fault drills: a shop with a help centre, an agent on duty and a slow loopback model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest
from websockets.asyncio.client import ClientConnection

from apps.bot.models import BotSettings
from apps.chat.models import Visitor
from apps.chat.services import visitor_create
from apps.handoff.models import Team
from apps.handoff.services.presence import agent_session_open
from apps.sites.models import Site
from tests.bot.conftest import help_centre
from tests.conftest import SITE_ORIGIN, agent_create
from tests.handoff.conftest import _fresh_channel_layer, _no_connection_left_in_the_sync_thread
from tests.llm.fixtures import chain, fresh_breaker, llm_clients_closed, provider
from tests.llm.loopback import LoopbackServer

__all__ = [
    "QUESTION",
    "SITE_ORIGIN",
    "_fresh_channel_layer",
    "_no_connection_left_in_the_sync_thread",
    "chain",
    "fresh_breaker",
    "help_centre",
    "llm_clients_closed",
    "model_env",
    "provider",
    "receive_until",
    "socket_url",
]

QUESTION = "How long do refunds take to reach Alipay?"
MODEL = "openai/gpt-4o-mini"


@pytest.fixture(autouse=True)
def _no_dense_search(settings: object) -> None:
    # The workers run without it too (model_env): the drills are about faults, not retrieval.
    settings.CSBOT_EMBEDDINGS = "off"  # type: ignore[attr-defined]


@pytest.fixture
def shop(site: Site, help_centre: object) -> Site:
    """An English shop whose bot answers on any evidence, with an agent online to hand over to."""
    site.default_language = "en"
    site.save(update_fields=["default_language"])
    BotSettings.objects.create(site=site, answer_threshold=0.05)
    agent = agent_create("mei", team=Team.objects.create(site=site, name="Support"))
    agent_session_open(user=agent, channel_name="drill.console.mei")
    return site


@pytest.fixture
def shopper(shop: Site) -> Visitor:
    return visitor_create(site=shop)


@pytest.fixture
def model() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def model_env(url: str, **extra: str) -> dict[str, str]:
    """Worker variables: the loopback model as the only route, no dense search."""
    return {
        "CSBOT_LLM_CHAIN": MODEL,
        "OPENAI_BASE_URL": url,
        "OPENAI_API_KEY": "sk-test-openai-0123456789",
        "CSBOT_LLM_CONNECT_TIMEOUT": "2",
        "CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "5",
        "CSBOT_LLM_BETWEEN_TOKENS_TIMEOUT": "5",
        "CSBOT_LLM_TOTAL_TIMEOUT": "30",
        "CSBOT_LLM_RETRY_BACKOFF": "0.01",
        "CSBOT_EMBEDDINGS": "off",
        **extra,
    }


async def receive_until(
    ws: ClientConnection, predicate: Callable[[dict], bool], seen: list[dict]
) -> dict:
    """Read frames into ``seen`` until one matches; fail after 15 s."""
    async with asyncio.timeout(15):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if predicate(frame):
                return frame


def socket_url(worker_ws_url: str, site: Site) -> str:
    return f"{worker_ws_url}/ws/chat/?site={site.public_key}"
