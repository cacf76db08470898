"""Handoff personas: teammates, a rival team on the same site, agents who are present."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.handoff.models import Team
from apps.handoff.webhooks import webhook_runner_stop
from apps.sites.models import Site
from tests.conftest import agent_create


@pytest.fixture(autouse=True)
def _no_webhook_thread_left() -> Iterator[None]:
    yield
    webhook_runner_stop()


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
