"""The answer checks' admin: run them, see the last results, freeze a bot answer as a check."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.bot.models import AnswerAudit, AnswerCheck
from apps.knowledge.models import Article, Status
from apps.knowledge.services.content import entries_set_status
from tests.bot.conftest import replied

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:bot_answercheck_changelist"
DELIVERY = "How long does delivery to Xinjiang take?"


def test_running_the_selected_checks_shows_pass_and_fail_in_the_list(
    admin_client, site, help_centre
):
    good = AnswerCheck.objects.create(site=site, question=DELIVERY, expected_entries="shipping-en")
    bad = AnswerCheck.objects.create(site=site, question=DELIVERY, expect="decline")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "run_selected", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "1 of 2 answer checks pass; failing: “How long does delivery" in html
    assert "expected a decline" in html
    assert html.count("icon-yes.svg") == 1
    assert html.count("icon-no.svg") == 1
    assert "Shipping and delivery › Delivery times" in html
    good.refresh_from_db()
    assert good.last_passed is True


def test_the_button_runs_every_check_of_the_chosen_site_only(
    admin_client, site, other_site, help_centre
):
    mine = AnswerCheck.objects.create(site=site, question=DELIVERY, expected_entries="shipping-en")
    theirs = AnswerCheck.objects.create(
        site=other_site, question=DELIVERY, expected_entries="shipping-en"
    )
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert reverse("admin:bot_answercheck_run_site") in page
    response = admin_client.post(
        reverse("admin:bot_answercheck_run_site"), {"site": site.pk}, follow=True
    )
    assert "1 of 1 answer checks pass." in response.content.decode()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.last_passed, theirs.last_passed) == (True, None)


def test_the_change_form_shows_the_last_run(admin_client, site, help_centre):
    check = AnswerCheck.objects.create(site=site, question=DELIVERY, expected_entries="shipping-en")
    entries_set_status(
        entries=Article.objects.filter(external_id="shipping-en"), status=Status.DRAFT
    )
    admin_client.post(
        reverse(CHANGELIST), {"action": "run_selected", "_selected_action": [check.pk]}
    )
    html = admin_client.get(reverse("admin:bot_answercheck_change", args=[check.pk])).content
    assert "Last run" in html.decode()
    assert "not published: shipping-en" in html.decode()


def test_an_answer_expected_without_entries_is_refused_by_the_form(admin_client, site):
    response = admin_client.post(
        reverse("admin:bot_answercheck_add"),
        {"site": site.pk, "question": DELIVERY, "history": "[]", "expect": "answer"},
    )
    assert response.status_code == 200
    assert "List at least one entry the answer may cite." in response.content.decode()
    assert not AnswerCheck.objects.exists()


def test_audits_become_checks_that_expect_what_the_bot_did(
    admin_client, site, help_centre, conversation
):
    async_to_sync(replied)(conversation, DELIVERY)
    async_to_sync(replied)(conversation, "Can I pay with bitcoin?")
    async_to_sync(replied)(conversation, DELIVERY)
    audits = list(AnswerAudit.objects.order_by("pk").values_list("pk", "decision"))
    assert [d for _, d in audits] == ["answer", "abstain", "answer"]
    response = admin_client.post(
        reverse("admin:bot_answeraudit_changelist"),
        {"action": "save_as_checks", "_selected_action": [pk for pk, _ in audits]},
        follow=True,
    )
    # The same question twice is one check.
    assert "2 answer checks saved, 1 skipped" in response.content.decode()
    checks = list(AnswerCheck.objects.order_by("pk"))
    assert [(c.site_id, c.question, c.expect, c.expected_entries) for c in checks] == [
        (site.pk, DELIVERY, "answer", "shipping-en"),
        (site.pk, "Can I pay with bitcoin?", "decline", ""),
    ]
    admin_client.post(
        reverse(CHANGELIST),
        {"action": "run_selected", "_selected_action": [c.pk for c in checks]},
    )
    assert list(AnswerCheck.objects.values_list("last_passed", flat=True)) == [True, True]


def test_saving_audits_as_checks_needs_the_add_permission(
    client, django_user_model, help_centre, conversation
):
    async_to_sync(replied)(conversation, DELIVERY)
    staff = django_user_model.objects.create_user("auditor", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_answeraudit"))
    client.force_login(staff)
    page = client.get(reverse("admin:bot_answeraudit_changelist")).content.decode()
    assert "save_as_checks" not in page
    staff.user_permissions.add(Permission.objects.get(codename="add_answercheck"))
    page = client.get(reverse("admin:bot_answeraudit_changelist")).content.decode()
    assert "save_as_checks" in page
