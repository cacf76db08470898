"""Knowledge-base fixtures: a collection with content, and search indexes that start cold."""

from __future__ import annotations

import pytest

from apps.knowledge.models import Collection, Status
from apps.knowledge.search.embedders import embedder_reset
from apps.knowledge.search.engine import indexes_drop
from apps.knowledge.services.content import article_create, collection_create, faq_create


@pytest.fixture(autouse=True)
def _lexical_search_and_cold_indexes(settings: object) -> None:
    # Dense retrieval runs the real embedding model; only tests that are about it turn it on.
    settings.CSBOT_EMBEDDINGS = "off"  # type: ignore[attr-defined]
    # A rolled-back test can hand the next one the same collection ids.
    indexes_drop()
    embedder_reset()


@pytest.fixture
def collection(db: None) -> Collection:
    return collection_create(name="Help centre")


@pytest.fixture
def other_collection(db: None) -> Collection:
    return collection_create(name="Other help centre")


@pytest.fixture
def help_centre(collection: Collection) -> Collection:
    """A small bilingual help centre: two articles and two FAQ entries, all published."""
    article_create(
        collection=collection,
        title="Returns and refunds",
        body=(
            "You can return unused items within 30 days.\n\n"
            "## Refund times\nRefunds reach Alipay within 3 days.\n\n"
            "## Exchanges\nExchange for another colour within 30 days."
        ),
        language="en",
        status=Status.PUBLISHED,
        external_id="returns-en",
    )
    article_create(
        collection=collection,
        title="配送说明",
        body="## 发货时间\n工作日16点前付款的订单当天发货。\n\n## 运费\n满99元包邮。",
        language="zh-hans",
        status=Status.PUBLISHED,
        external_id="shipping-zh",
    )
    faq_create(
        collection=collection,
        question="How long is the warranty?",
        alternatives="My lamp broke\nIs my lamp covered?",
        answer="Lamps have a 2-year warranty.",
        language="en",
        status=Status.PUBLISHED,
        external_id="faq-warranty",
    )
    faq_create(
        collection=collection,
        question="退款多久到账？",
        answer="仓库收到退货后3个工作日内原路退款。",
        language="zh-hans",
        status=Status.PUBLISHED,
        external_id="faq-refund-zh",
    )
    return collection
