"""Data migrations of the knowledge app, run on a database with content."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from apps.knowledge.models import Collection, Passage, Status
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import article_create

pytestmark = pytest.mark.django_db


def test_an_upgrade_reanalyses_passages_stored_before_codes_were_one_term(
    collection: Collection,
) -> None:
    article_create(
        collection=collection,
        title="Aurora desk lamp",
        body="The LM-2041 costs ¥299.",
        language="en",
        status=Status.PUBLISHED,
    )
    # What the analyzer before this release stored: the code's parts only.
    passage = Passage.objects.get(collection=collection)
    Passage.objects.filter(pk=passage.pk).update(tokens=passage.tokens.replace("lm2041 ", ""))
    version = Collection.objects.get(pk=collection.pk).version
    migration = importlib.import_module("apps.knowledge.migrations.0006_passages_reanalyze_codes")

    migration.passages_reanalyze(apps, SimpleNamespace(connection=connection))

    assert "lm2041" in Passage.objects.get(pk=passage.pk).tokens.split()
    # A new version, so every worker's index loads the new terms on its next search.
    assert Collection.objects.get(pk=collection.pk).version > version
    (hit,) = passages_search(query="lm2041", collections=[collection])
    assert "lm2041" in hit.matched_terms
