"""Answer checks: golden questions the bot must keep answering (or declining) as it does."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.bot.models import AnswerCheck
from apps.bot.records import answer_checks_run
from apps.knowledge.models import Article, FAQEntry, Status
from apps.knowledge.services.content import article_create, entries_delete, entries_set_status
from apps.knowledge.services.import_jobs import import_job_create, import_job_run
from apps.llm.models import Origin, UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)

DELIVERY = "How long does delivery to Xinjiang take?"
GIFT_CARDS = "Do you sell gift cards?"


def check_create(site, question, *, expect=AnswerCheck.Expect.ANSWER, entries="", history=()):
    return AnswerCheck.objects.create(
        site=site, question=question, expect=expect, expected_entries=entries, history=list(history)
    )


def run(*checks):
    results = answer_checks_run(check_ids=[c.pk for c in checks])
    for check in checks:
        check.refresh_from_db()
    return results


def test_a_question_answered_citing_its_entry_passes_and_records_the_run(site, help_centre):
    check = check_create(site, DELIVERY, entries="shipping-en")
    [result] = run(check)
    assert result.passed
    assert check.last_passed is True
    assert (check.last_decision, check.last_reason) == ("answer", "evidence")
    assert check.last_cited == ["Shipping and delivery › Delivery times"]
    assert check.last_problem == ""
    assert check.last_run_at is not None


def test_unpublishing_the_expected_entry_makes_the_check_fail_and_say_why(site, help_centre):
    check = check_create(site, DELIVERY, entries="shipping-en")
    entries_set_status(
        entries=Article.objects.filter(external_id="shipping-en"), status=Status.DRAFT
    )
    [result] = run(check)
    assert not result.passed
    assert check.last_passed is False
    assert check.last_problem == "not published: shipping-en"


def test_citing_another_entry_than_the_expected_fails(site, help_centre):
    check = check_create(site, DELIVERY, entries="returns-en")
    [result] = run(check)
    assert not result.passed
    assert result.problem == (
        "cited Shipping and delivery › Delivery times, none of the expected entries"
    )


def test_an_expected_decline_fails_once_the_knowledge_base_answers_it(site, help_centre):
    check = check_create(site, GIFT_CARDS, expect=AnswerCheck.Expect.DECLINE)
    [before] = run(check)
    assert before.passed
    assert check.last_decision == "abstain"
    article_create(
        collection=help_centre,
        title="Gift cards",
        body="Yes, we sell gift cards of 100, 200 and 500 yuan in our shop.",
        language="en",
        status=Status.PUBLISHED,
        external_id="gift-cards-en",
    )
    [after] = run(check)
    assert not after.passed
    assert check.last_decision == "answer"
    assert check.last_problem == "answered citing Gift cards, expected a decline"


def test_a_deleted_expected_entry_is_reported_not_a_crash(site, help_centre):
    check = check_create(site, "How long is the warranty?", entries="faq-warranty-en")
    entries_delete(entries=FAQEntry.objects.filter(external_id="faq-warranty-en"))
    [result] = run(check)
    assert not result.passed
    assert check.last_problem == "no longer in the knowledge base: faq-warranty-en"


def test_a_follow_up_is_answered_in_the_context_of_its_earlier_messages(site, help_centre):
    check = check_create(
        site, "And to Xinjiang?", entries="shipping-en", history=["How long does delivery take?"]
    )
    [result] = run(check)
    assert result.passed, result.problem


def test_checks_use_the_offline_answerer_even_when_the_site_has_a_model(
    site, help_centre, chain, provider
):
    chain(("openai/gpt-4o-mini", provider.url))
    check = check_create(site, DELIVERY, entries="shipping-en")
    [result] = run(check)
    assert result.passed
    assert provider.requests == []
    assert set(UsageRecord.objects.values_list("provider", flat=True)) <= {"offline"}


def test_a_checks_model_calls_are_not_counted_as_visitors_answers(site, help_centre):
    [result] = run(check_create(site, DELIVERY, entries="shipping-en"))
    assert result.passed
    origins = list(UsageRecord.objects.values_list("origin", flat=True))
    assert origins
    assert set(origins) == {Origin.EVALUATION}


def test_bot_check_exits_zero_when_every_check_passes_and_prints_json(site, help_centre):
    check = check_create(site, DELIVERY, entries="shipping-en")
    out = StringIO()
    call_command("bot_check", "--json", "--site", site.public_key, stdout=out)
    report = json.loads(out.getvalue())
    assert (report["total"], report["passed"], report["failed"]) == (1, 1, 0)
    [row] = report["checks"]
    assert row["id"] == check.pk
    assert (row["passed"], row["decision"], row["problem"]) == (True, "answer", "")
    assert row["cited"] == ["Shipping and delivery › Delivery times"]


def test_bot_check_exits_non_zero_when_a_check_fails_and_names_it(site, other_site, help_centre):
    check_create(site, DELIVERY, entries="shipping-en")
    check_create(site, DELIVERY, expect=AnswerCheck.Expect.DECLINE)
    check_create(other_site, DELIVERY, entries="shipping-en")
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("bot_check", "--site", site.public_key, stdout=out)
    assert exited.value.code == 1
    lines = out.getvalue().splitlines()
    assert lines[-1] == "1 of 2 answer checks pass"
    assert lines[1].startswith("FAIL")
    assert "expected a decline" in lines[1]


def test_bot_check_refuses_an_unknown_site(db):
    with pytest.raises(CommandError, match="no site with public key 'nope'"):
        call_command("bot_check", "--site", "nope")


def test_an_import_job_reports_the_answer_checks_of_the_sites_using_the_collection(
    site, other_site, help_centre
):
    check_create(site, DELIVERY, entries="shipping-en")
    check_create(site, GIFT_CARDS, expect=AnswerCheck.Expect.DECLINE)
    # Another site's check does not answer from this collection: not run, not counted.
    elsewhere = check_create(other_site, DELIVERY, entries="shipping-en")
    job = import_job_create(
        collection=help_centre, file_name="faq.csv", fmt="auto", replace=False, user_id=None
    )
    import_job_run(job_id=job.pk, data=b"Do you sell gift cards?,Yes: 100 and 200 yuan cards.\n")
    job.refresh_from_db()
    assert job.state == "done"
    assert job.message.endswith(
        " 1 of 2 answer checks pass; failing: “Do you sell gift cards?” (answered citing Do "
        "you sell gift cards?, expected a decline)."
    )
    elsewhere.refresh_from_db()
    assert elsewhere.last_run_at is None


def test_an_import_into_a_collection_no_check_uses_says_nothing_of_checks(site, help_centre):
    job = import_job_create(
        collection=help_centre, file_name="faq.csv", fmt="auto", replace=False, user_id=None
    )
    import_job_run(job_id=job.pk, data=b"Do you sell gift cards?,Yes.\n")
    job.refresh_from_db()
    assert job.state == "done"
    assert "answer checks" not in job.message


GIFT_CARDS_FAQ = b"Do you sell gift cards?,Yes: 100 and 200 yuan cards.\n"
DELIVERY_FAQ = b"Do you ship to Xinjiang?,Yes: in 5 days.\n"


def kb_import(collection, tmp_path, text: bytes) -> tuple[int, str, str]:
    """Run ``kb_import`` on a CSV file: its exit status, stdout and stderr."""
    faq = tmp_path / "faq.csv"
    faq.write_bytes(text)
    out, err = StringIO(), StringIO()
    status = 0
    try:
        call_command(
            "kb_import",
            str(faq),
            "--collection",
            collection.name,
            "--no-embed",
            stdout=out,
            stderr=err,
        )
    except SystemExit as exited:
        status = exited.code
    return status, out.getvalue(), err.getvalue()


def test_kb_import_exits_0_and_says_so_when_every_answer_check_passes(site, help_centre, tmp_path):
    check_create(site, DELIVERY, entries="shipping-en")
    check_create(site, GIFT_CARDS, expect=AnswerCheck.Expect.DECLINE)
    status, out, err = kb_import(help_centre, tmp_path, DELIVERY_FAQ)
    assert status == 0
    assert out.splitlines()[-1] == "2 of 2 answer checks pass."
    assert "FAIL" not in err


def test_kb_import_exits_3_naming_the_failing_checks_and_keeps_the_import(
    site, help_centre, tmp_path
):
    check_create(site, DELIVERY, entries="shipping-en")
    gift_cards = check_create(site, GIFT_CARDS, expect=AnswerCheck.Expect.DECLINE)
    status, out, err = kb_import(help_centre, tmp_path, GIFT_CARDS_FAQ)
    assert status == 3
    # The last line says what an upload's outcome says.
    assert out.splitlines()[-1] == (
        "1 of 2 answer checks pass; failing: “Do you sell gift cards?” (answered citing Do "
        "you sell gift cards?, expected a decline)."
    )
    # The failing check, as bot_check's table shows it, on stderr.
    [row] = err.splitlines()[-1:]
    assert row.split()[:3] == ["FAIL", f"#{gift_cards.pk}", "faq"]
    assert GIFT_CARDS in row
    assert row.endswith("(answered citing Do you sell gift cards?, expected a decline)")
    assert "pass  #" not in err
    assert FAQEntry.objects.filter(collection=help_centre, question=GIFT_CARDS).exists()


def test_kb_import_exits_3_when_the_answer_checks_cannot_run(site, help_centre, tmp_path):
    # A follow-up's earlier messages stored as something that is not a list: answering it
    # raises, as a check broken by a bad edit in the database would.
    check_create(site, DELIVERY, entries="shipping-en")
    AnswerCheck.objects.update(history=5)
    status, out, err = kb_import(help_centre, tmp_path, DELIVERY_FAQ)
    assert status == 3
    assert err.count("Warning: the answer checks could not run (TypeError") == 1
    assert "answer checks" not in out
    assert FAQEntry.objects.filter(question="Do you ship to Xinjiang?").exists()


def test_kb_import_into_a_collection_no_check_uses_exits_0(site, help_centre, tmp_path):
    status, out, err = kb_import(help_centre, tmp_path, GIFT_CARDS_FAQ)
    assert status == 0
    assert "answer checks" not in out + err
