"""CSBOT_EMBEDDINGS=gateway: vectors from the model gateway, a real provider on loopback."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from apps.knowledge.models import Collection, Passage, Status
from apps.knowledge.search.embedders import embedder_get, vector_from_bytes
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import faq_create, passages_embed
from tests.llm.fixtures import chain, fresh_breaker, provider
from tests.llm.provider_replies import embeddings_reply, openai_error

__all__ = ["chain", "fresh_breaker", "provider"]

# The gateway records usage from its own threads, as in production: commits must be real.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_faqs(collection: Collection) -> Collection:
    for question, answer in (("Shipping times?", "Two days."), ("Refund times?", "Three days.")):
        faq_create(
            collection=collection,
            question=question,
            answer=answer,
            language="en",
            status=Status.PUBLISHED,
        )
    return collection


@pytest.fixture
def gateway(settings, chain, provider, fresh_breaker, two_faqs):  # type: ignore[no-untyped-def]
    """The provider behind CSBOT_LLM_EMBEDDINGS, switched on once ``two_faqs`` exist."""
    chain(
        CSBOT_LLM_EMBEDDINGS="openai/text-embedding-3-small",
        OPENAI_BASE_URL=provider.url,
        OPENAI_API_KEY="sk-test-openai-0123456789",
    )
    settings.CSBOT_EMBEDDINGS = "gateway"
    return provider


def test_passages_are_embedded_by_the_gateway_model(gateway, two_faqs: Collection) -> None:  # type: ignore[no-untyped-def]
    gateway.reply(embeddings_reply([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]]))
    assert passages_embed(collection_id=two_faqs.pk) == 2
    request = gateway.requests[0]
    assert request.path == "/embeddings"
    assert request.json()["input"] == ["Shipping times?\nTwo days.", "Refund times?\nThree days."]
    first, second = Passage.objects.order_by("pk")
    assert first.embedding_model == "openai/text-embedding-3-small"
    assert list(vector_from_bytes(first.embedding)) == pytest.approx([0.6, 0.8, 0.0])
    assert list(vector_from_bytes(second.embedding)) == pytest.approx([0.0, 0.0, 1.0])


def test_question_is_embedded_and_matched_by_meaning(gateway, two_faqs: Collection) -> None:  # type: ignore[no-untyped-def]
    gateway.reply(embeddings_reply([[1.0, 0.0], [0.0, 1.0]]), embeddings_reply([[0.0, 2.0]]))
    passages_embed(collection_id=two_faqs.pk)
    (best, *_) = passages_search(query="when is my money back", collections=[two_faqs])
    assert best.title == "Refund times?"
    assert best.semantic_score == pytest.approx(1.0)
    assert gateway.requests[-1].json()["input"] == ["when is my money back"]


def test_search_falls_back_to_words_when_the_gateway_fails(  # type: ignore[no-untyped-def]
    gateway, two_faqs: Collection, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.reply(embeddings_reply([[1.0, 0.0], [0.0, 1.0]]), openai_error(503), openai_error(503))
    passages_embed(collection_id=two_faqs.pk)
    with caplog.at_level(logging.WARNING):
        (best, *_) = passages_search(query="refund times", collections=[two_faqs])
    assert best.title == "Refund times?"
    assert best.semantic_score is None
    assert "searching by words only" in caplog.text


def test_kb_embed_fills_in_missing_vectors(gateway, two_faqs: Collection) -> None:  # type: ignore[no-untyped-def]
    gateway.reply(embeddings_reply([[1.0, 0.0], [0.0, 1.0]]))
    out = io.StringIO()
    call_command("kb_embed", stdout=out, stderr=io.StringIO())
    assert f"{two_faqs.name}: 2 passages embedded" in out.getvalue()
    assert not Passage.objects.filter(embedding__isnull=True).exists()


def test_gateway_mode_without_an_embeddings_model_is_refused(settings, chain) -> None:  # type: ignore[no-untyped-def]
    chain()
    settings.CSBOT_EMBEDDINGS = "gateway"
    with pytest.raises(ImproperlyConfigured, match="CSBOT_LLM_EMBEDDINGS"):
        embedder_get()


def test_an_edit_is_saved_and_searchable_when_embedding_it_fails(  # type: ignore[no-untyped-def]
    gateway, two_faqs: Collection, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.reply(openai_error(503), openai_error(503))
    with caplog.at_level(logging.WARNING):
        faq = faq_create(
            collection=two_faqs,
            question="Gift wrap?",
            answer="Free tangerine paper.",
            language="en",
            status=Status.PUBLISHED,
        )
    assert "kb_embed or the next edit adds the vectors" in caplog.text
    assert faq.passages.get().embedding is None
    (best, *_) = passages_search(query="tangerine gift wrap", collections=[two_faqs])
    assert best.faq_id == faq.pk


def test_an_upload_whose_embedding_fails_is_done_with_a_warning_and_searchable(  # type: ignore[no-untyped-def]
    gateway, two_faqs: Collection
) -> None:
    from apps.knowledge.models import ImportJob
    from apps.knowledge.services.import_jobs import import_job_create, import_job_run

    gateway.default = openai_error(500)
    job = import_job_create(
        collection=two_faqs, file_name="faq.csv", fmt="auto", replace=False, user_id=None
    )
    import_job_run(job_id=job.pk, data=b"Gift wrap?,Free tangerine paper.\n")
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert job.message.startswith("1 created, 0 updated")
    assert "vectors for search by meaning failed" in job.message
    assert "run python manage.py kb_embed" in job.message
    (best, *_) = passages_search(query="tangerine gift wrap", collections=[two_faqs])
    assert best.title == "Gift wrap?"
