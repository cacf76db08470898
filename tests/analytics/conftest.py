"""Outcome fixtures: a present agent, a clock the test moves, cold lexical search, a help centre."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from channels.layers import channel_layers
from django.utils import timezone

from apps.handoff.services.presence import agent_session_open
from apps.knowledge.models import Collection, Status
from apps.knowledge.search.embedders import embedder_reset
from apps.knowledge.search.engine import indexes_drop
from apps.knowledge.services.content import article_create, collection_create, faq_create
from apps.sites.models import Site


@pytest.fixture(autouse=True)
def _lexical_search_and_cold_indexes(settings: object) -> Iterator[None]:
    # The real embedding model costs seconds; only the tests about vectors turn it on.
    settings.CSBOT_EMBEDDINGS = "off"  # type: ignore[attr-defined]
    indexes_drop()
    embedder_reset()
    yield
    indexes_drop()


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    # Each socket test runs in its own event loop; the Redis layer's pools are bound to one.
    yield
    channel_layers.backends.clear()


class Clock:
    """``timezone.now`` for every service, moved by the test (auto_now fields included)."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def pipeline(settings: object) -> None:
    """The real answering pipeline; with no model configured it answers offline, by quoting."""
    settings.CSBOT_ANSWERER = "apps.bot.pipeline.answer"  # type: ignore[attr-defined]


@pytest.fixture
def english(site: Site) -> Site:
    """``site``, speaking English to its visitors."""
    site.default_language = "en"
    site.save(update_fields=["default_language"])
    return site


@pytest.fixture
def present_agent(agent: object) -> object:
    """Mei with her console open: handoffs to Support are possible."""
    agent_session_open(user=agent, channel_name="test.mei")
    return agent


@pytest.fixture
def help_centre(site: Site) -> Collection:
    """The site's knowledge base: two FAQ entries the bot answers as written."""
    collection = collection_create(name="Help centre")
    collection.sites.add(site)
    faq_create(
        collection=collection,
        question="How much is shipping?",
        answer="Shipping is free on orders over ¥99.",
        language="en",
        status=Status.PUBLISHED,
    )
    faq_create(
        collection=collection,
        question="运费多少？",
        answer="满99元包邮。",
        language="zh-hans",
        status=Status.PUBLISHED,
    )
    return collection


@pytest.fixture
def returns_article(help_centre: Collection) -> Collection:
    """The help centre with an article on returns: answered by the model, not as an FAQ."""
    article_create(
        collection=help_centre,
        title="Returns and refunds",
        body="You can return unused items within 30 days of delivery for a full refund.",
        language="en",
        status=Status.PUBLISHED,
    )
    return help_centre
