"""bot_eval scores the pipeline's decisions; bot_guard_scan flags the knowledge base."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command

from apps.bot.evaluation import answer_traced, ask_following, settings_uncached
from apps.bot.models import AnswerAudit, GuardEvent, SensitiveTerm
from apps.bot.trace import Ask
from apps.knowledge.models import Article

pytestmark = [pytest.mark.django_db(transaction=True)]

QUERIES = [
    {
        "id": "q1",
        "lang": "en",
        "query": "How long is the warranty?",
        "relevant": ["faq-warranty-en"],
    },
    {
        "id": "q2",
        "lang": "en",
        "query": "How long do refunds take to reach Alipay?",
        "relevant": ["returns-en"],
    },
    {"id": "q3", "lang": "zh", "query": "保修多久？", "relevant": ["faq-warranty-zh"]},
    # The right entry exists, but the question is about shipping: a wrong citation.
    {
        "id": "q4",
        "lang": "en",
        "query": "Is shipping free on orders of 99 yuan?",
        "relevant": ["returns-en"],
    },
    # Uncovered: the entry it needs is not in the knowledge base.
    {"id": "q5", "lang": "en", "query": "Can I pay with bitcoin?", "relevant": ["payments-en"]},
    {"id": "q6", "lang": "zh", "query": "可以用比特币付款吗？", "relevant": ["payments-zh"]},
]


def _write(tmp_path, rows) -> str:
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return str(path)


def test_bot_eval_prints_the_figures_of_the_issue_as_one_json_object(help_centre, tmp_path):
    out = StringIO()
    call_command("bot_eval", _write(tmp_path, QUERIES), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert set(report) == {"all", "en", "zh"}
    assert set(report["all"]) == {"covered", "uncovered", "latency_ms"}
    assert report["all"]["covered"] == {"n": 4, "correct": 0.75, "wrong": 0.25, "abstained": 0.0}
    assert report["all"]["uncovered"] == {"n": 2, "abstained": 1.0, "answered": 0.0}
    assert report["zh"]["covered"]["n"] == 1
    assert report["en"]["uncovered"]["n"] == 1
    assert set(report["all"]["latency_ms"]) == {"p50", "p95"}
    # Evaluation records nothing and hands nobody over.
    assert not AnswerAudit.objects.exists()


def test_bot_eval_table_breaks_the_figures_down_by_source(help_centre, tmp_path):
    out = StringIO()
    call_command("bot_eval", _write(tmp_path, QUERIES), stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0].split()[:2] == ["group", "covered"]
    assert "en·faq" in text
    assert "decisions: " in text


def test_bot_eval_reads_earlier_turns_for_follow_ups(help_centre, tmp_path):
    rows = [
        {
            "id": "f1",
            "lang": "en",
            "query": "What about Xinjiang?",
            "history": ["How long does delivery take to Shanghai?"],
            "relevant": ["shipping-en"],
        }
    ]
    out = StringIO()
    call_command("bot_eval", _write(tmp_path, rows), "--json", stdout=out)
    assert json.loads(out.getvalue())["all"]["covered"]["correct"] == 1.0


def test_bot_eval_refuses_a_malformed_file(help_centre, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "q1", "query": "hi"}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="line 1"):
        call_command("bot_eval", str(path))


def test_bot_guard_scan_flags_entries_and_says_how_many(help_centre):
    SensitiveTerm.objects.create(term="Alipay", category="competitor", action="block")
    out = StringIO()
    call_command("bot_guard_scan", stdout=out)
    assert "1 new flag" in out.getvalue()
    flag = GuardEvent.objects.get()
    assert flag.article == Article.objects.get(external_id="returns-en")


def test_kb_import_flags_imported_text_with_a_sensitive_term(db, tmp_path):
    SensitiveTerm.objects.create(term="Alipay", category="competitor", action="block")
    source = tmp_path / "kb.jsonl"
    source.write_text(
        '{"id": "pay-1", "lang": "en", "title": "Paying", "body": "We accept Alipay and cards."}\n'
        '{"id": "ship-1", "lang": "en", "title": "Shipping", "body": "Parcels ship in 48 hours."}\n'
    )
    out = StringIO()
    call_command("kb_import", str(source), "--collection", "Imported", "--no-embed", stdout=out)
    assert "1 entries flagged for review" in out.getvalue()
    assert GuardEvent.objects.get().article == Article.objects.get(external_id="pay-1")


def test_evaluation_answers_a_fragment_in_the_language_of_the_messages_before(help_centre):
    # bot_eval and the answer checks ask as a conversation would: a Chinese fragment after a
    # Chinese question is answered in Chinese, as in the widget, not in the template's English.
    template = Ask(
        question="",
        settings=settings_uncached(None),
        site_name="Shop",
        site_id=None,
        collection_ids=(help_centre.pk,),
        may_hand_off=False,
    )
    ask = ask_following(template, question="那台灯呢？", history=["保修多久？"])
    trace, final = async_to_sync(answer_traced)(ask)
    assert trace.language == "zh-hans"
    assert trace.decision == AnswerAudit.Decision.ANSWER
    assert re.search(r"[\u4e00-\u9fff]", final.text.split("\n")[0])
