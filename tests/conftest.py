"""Shared personas and helpers. The "other" personas exist to prove they see nothing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from apps.chat.models import Visitor
from apps.chat.services import visitor_create
from apps.chat.tokens import visitor_token_issue
from apps.core.memo import site_settings
from apps.sites.models import Site
from csbot.lifespan import RUNNERS

SITE_ORIGIN = "https://shop.example.com"


def pytest_configure(config: pytest.Config) -> None:
    """Keep the SQLite test database in a file, so worker processes and threads can share it."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        test_file = Path(tempfile.gettempdir()) / f"csbot-test-{os.getpid()}.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(test_file)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail at once, naming the service, when a configured database or Redis is not reachable."""
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise pytest.UsageError(
                f"REDIS_URL={settings.REDIS_URL} is not reachable: {exc}"
            ) from exc
        # A database number of its own: flushing it cannot touch anything else.
        client.flushdb()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Rate-limit counters live in the cache; each test starts with none.
    cache.clear()
    # A rolled-back test's site settings would otherwise reach the next test's site of that pk.
    site_settings.forget()
    # A request the test client served leaves its language active in this thread; messages a
    # test reads outside a request are worded in the default language, whatever ran before.
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _no_background_thread_left() -> Iterator[None]:
    # A webhook or reply-email thread a test started must not query the next test's database.
    yield
    for runner in RUNNERS:
        runner.stop()


@pytest.fixture
def site(db: None) -> Site:
    return Site.objects.create(
        name="Shop", allowed_origins=f"{SITE_ORIGIN}\nhttps://*.shop.example.com"
    )


@pytest.fixture
def other_site(db: None) -> Site:
    return Site.objects.create(name="Other shop", allowed_origins="https://other.example.net")


@pytest.fixture
def visitor(site: Site) -> Visitor:
    return visitor_create(site=site)


@pytest.fixture
def other_visitor(site: Site) -> Visitor:
    return visitor_create(site=site)


def token_for(visitor: Visitor) -> str:
    return visitor_token_issue(
        visitor_public_id=str(visitor.public_id), site_key=visitor.site.public_key
    )


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def agent_create(username: str, *, team: object) -> object:
    """A staff user in the Agents group and in ``team`` (an apps.handoff Team)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from apps.handoff.selectors import AGENTS_GROUP

    # No password: hashing one costs a fifth of a second; tests sign agents in with a session.
    user = get_user_model().objects.create_user(username=username, first_name=username.title())
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    team.members.add(user)  # type: ignore[attr-defined]
    return user


@pytest.fixture
def agent(site: Site) -> object:
    """Mei, an agent in the Support team of ``site``."""
    from apps.handoff.models import Team

    return agent_create("mei", team=Team.objects.get_or_create(site=site, name="Support")[0])


@pytest.fixture
def other_agent(other_site: Site) -> object:
    """An agent of another site's team: sees none of ``site``'s tickets."""
    from apps.handoff.models import Team

    return agent_create("otto", team=Team.objects.create(site=other_site, name="Support"))
