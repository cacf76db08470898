"""Handoff personas: teammates, a rival team on the same site, agents who are present."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.db import connections

from apps.handoff.models import Team
from apps.sites.models import Site
from tests.conftest import agent_create


@pytest.fixture(autouse=True)
async def _no_connection_left_in_the_sync_thread() -> AsyncIterator[None]:
    # Async ORM calls in a test body leave a connection open in asgiref's sync thread; with the
    # PostgreSQL pool it stays checked out and keeps the test database from being dropped.
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    # Each test runs in an event loop of its own. The Redis layer keeps locks and pools bound to
    # the loop that made them, so one test's unfinished receive would poison the next test.
    yield
    channel_layers.backends.clear()


@pytest.fixture
def team(agent: object) -> Team:
    """The Support team ``agent`` belongs to."""
    return Team.objects.get(members=agent)


@pytest.fixture
def teammate(team: Team) -> object:
    return agent_create("li", team=team)


@pytest.fixture
def rival_agent(site: object) -> object:
    """An agent of another team on the same site: sees none of Support's tickets."""
    return agent_create("wang", team=Team.objects.create(site=site, name="Billing"))


@pytest.fixture
def english(site: Site) -> Site:
    """``site``, addressing its visitors in English."""
    site.default_language = "en"
    site.save(update_fields=["default_language"])
    return site
