"""Migrations stay runnable as the code moves on; an analyser change is caught up after
``migrate`` (and by kb_reindex)."""

from __future__ import annotations

import ast
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from apps.knowledge.models import Collection, Passage, Status, TuningState
from apps.knowledge.search.analyzer import ANALYZER_VERSION
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import article_create


def _passage_an_older_analyzer_stored(collection: Collection) -> Passage:
    """A passage with the terms the analyzer before codes were one term stored: the code's
    parts only, and the database saying so."""
    article_create(
        collection=collection,
        title="Aurora desk lamp",
        body="The LM-2041 costs ¥299.",
        language="en",
        status=Status.PUBLISHED,
    )
    passage = Passage.objects.get(collection=collection)
    Passage.objects.filter(pk=passage.pk).update(tokens=passage.tokens.replace("lm2041 ", ""))
    TuningState.objects.update_or_create(pk=1, defaults={"analyzer_version": ANALYZER_VERSION - 1})
    return passage


def test_kb_reindex_reanalyses_passages_stored_before_codes_were_one_term(
    collection: Collection,
) -> None:
    passage = _passage_an_older_analyzer_stored(collection)
    version = Collection.objects.get(pk=collection.pk).version

    call_command("kb_reindex", stdout=StringIO())

    assert "lm2041" in Passage.objects.get(pk=passage.pk).tokens.split()
    # A new version, so every worker's index loads the new terms on its next search.
    assert Collection.objects.get(pk=collection.pk).version > version
    (hit,) = passages_search(query="lm2041", collections=[collection])
    assert "lm2041" in hit.matched_terms
    # Every passage is this analyzer's now: the next migrate does not re-analyse them again.
    assert TuningState.objects.get(pk=1).analyzer_version == ANALYZER_VERSION


def test_migrate_reanalyses_passages_an_older_analyzer_stored(collection: Collection) -> None:
    passage = _passage_an_older_analyzer_stored(collection)
    out = StringIO()

    call_command("migrate", stdout=out, verbosity=0)

    assert "lm2041" in Passage.objects.get(pk=passage.pk).tokens.split()
    assert TuningState.objects.get(pk=1).analyzer_version == ANALYZER_VERSION
    # Up to date, the next migrate reads one row and re-analyses nothing.
    Passage.objects.filter(pk=passage.pk).update(tokens="stale")
    call_command("migrate", stdout=out, verbosity=0)
    assert Passage.objects.get(pk=passage.pk).tokens == "stale"


def _of_the_project(module: str | None) -> bool:
    return module is not None and (module == "apps" or module.startswith("apps."))


def _project_imports_in_functions(source: str) -> list[str]:
    """The project modules imported inside the functions of a module (RunPython's code)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and _of_the_project(inner.module):
                found.append(f"{node.name}: from {inner.module}")
            elif isinstance(inner, ast.Import):
                found += [f"{node.name}: {a.name}" for a in inner.names if _of_the_project(a.name)]
    return found


def test_no_migration_runs_the_projects_code() -> None:
    # A migration's code sees the schema of its day only through apps.get_model; today's models
    # and services query tables as they are at the end of the history, and break `migrate` for
    # a database that is still behind once they change.
    offenders = {
        str(path.relative_to(settings.BASE_DIR)): found
        for path in sorted(Path(settings.BASE_DIR, "apps").glob("*/migrations/*.py"))
        if (found := _project_imports_in_functions(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
