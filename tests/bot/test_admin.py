"""The admin: each answer's audit on the conversation page, the term list, guard events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from apps.bot.attachments import REASON
from apps.bot.models import AnswerAudit, BotSettings, GuardEvent, SensitiveTerm
from apps.chat.models import Message
from apps.chat.services import conversation_open
from tests.bot.conftest import replied

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_conversation_page_shows_why_the_bot_answered_as_it_did(
    admin_client, help_centre, conversation
):
    async_to_sync(replied)(conversation, "How long do refunds take to reach Alipay?")
    page = admin_client.get(reverse("admin:chat_conversation_change", args=[conversation.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Answer audits (why the bot answered as it did)" in html
    assert "returns-en" in html  # the passage behind the answer, with its confidence
    assert "\u2605 cited" in html
    assert "the passages were strong enough" in html  # the reason, worded
    # chat's own inlines are still there.
    assert Message.objects.filter(conversation=conversation).count() == 2
    assert "How long do refunds take" in html


def test_the_audit_list_filters_by_decision(admin_client, help_centre, conversation):
    async_to_sync(replied)(conversation, "Can I pay with bitcoin?")
    page = admin_client.get(reverse("admin:bot_answeraudit_changelist") + "?decision=abstain")
    assert page.status_code == 200
    assert "low_confidence" in page.content.decode()


def test_the_audit_list_words_each_reason_in_the_admins_language(
    admin_client, help_centre, conversation
):
    async_to_sync(replied)(conversation, "Can I pay with bitcoin?")
    page = admin_client.get(
        reverse("admin:bot_answeraudit_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    row = page.content.decode().split('<td class="field-reason">', 1)[1].split("</td>", 1)[0]
    assert row == "没有找到足够有把握的内容"


def test_the_audit_list_shows_the_newest_first_and_the_conversation_page_the_transcript_order(
    admin_client, help_centre, conversation, other_visitor
):
    first = async_to_sync(replied)(conversation, "Can I pay with bitcoin?")
    second = async_to_sync(replied)(conversation, "How long do refunds take to reach Alipay?")
    later = conversation_open(visitor=other_visitor)
    newest = async_to_sync(replied)(later, "Do you ship to Xinjiang?")

    page = admin_client.get(reverse("admin:bot_answeraudit_changelist"))
    listed = [audit.question_id for audit in page.context["cl"].result_list]
    assert listed == [newest.pk, second.pk, first.pk]

    page = admin_client.get(reverse("admin:chat_conversation_change", args=[conversation.pk]))
    [inline] = [f for f in page.context["inline_admin_formsets"] if f.opts.model is AnswerAudit]
    assert [form.original.question_id for form in inline] == [first.pk, second.pk]


def test_every_reason_the_docs_list_is_a_choice_and_no_other():
    section = (Path(settings.BASE_DIR) / "docs/answering.md").read_text()
    section = section.split("### Decisions and their reasons", 1)[1].split("###", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split("|")[2])}
    assert documented == set(AnswerAudit.Reason.values)


def test_the_reason_of_a_file_sent_alone_is_a_choice_shown_in_the_admins_language():
    audit = AnswerAudit(decision=AnswerAudit.Decision.ABSTAIN, reason=REASON)
    with translation.override("zh-hans"):
        assert audit.get_reason_display() == "只发了文件，机器人无法打开"
    with translation.override("en"):
        assert audit.get_reason_display() == "a file alone, which the bot cannot open"


def test_many_terms_can_be_pasted_at_once_and_duplicates_are_skipped(admin_client, site):
    SensitiveTerm.objects.create(term="违禁品", category="illegal", action="block")
    url = reverse("admin:bot_sensitiveterm_add_many")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"terms": "违禁品\n赌博\n\n赌博\n代开发票", "category": "illegal", "action": "handoff"}
    )
    assert response.status_code == 302
    assert sorted(SensitiveTerm.objects.values_list("term", "action")) == [
        ("代开发票", "handoff"),
        ("赌博", "handoff"),
        ("违禁品", "block"),
    ]


def test_a_term_pasted_in_another_case_or_width_is_the_term_already_listed(admin_client, site):
    SensitiveTerm.objects.create(term="taobao", category="competitor", action="mask")
    admin_client.post(
        reverse("admin:bot_sensitiveterm_add_many"),
        {"terms": "Taobao\nＴＡＯＢＡＯ\nJD\njd", "category": "competitor", "action": "block"},
    )
    assert sorted(SensitiveTerm.objects.values_list("term", "action")) == [
        ("JD", "block"),
        ("taobao", "mask"),
    ]


def test_adding_a_term_in_another_case_is_refused_naming_the_one_listed(admin_client, site):
    SensitiveTerm.objects.create(term="taobao", category="competitor", action="mask")
    SensitiveTerm.objects.create(term="Taobao", category="competitor", action="mask", site=site)
    add = reverse("admin:bot_sensitiveterm_add")
    form = {"category": "competitor", "action": "block", "is_active": "on"}
    refused = admin_client.post(add, {**form, "term": "TaoBao"})
    assert refused.status_code == 200
    assert "This term is already listed as “taobao”." in refused.content.decode()
    # Each scope is its own list; a term may be edited into another spelling of itself.
    refused = admin_client.post(add, {**form, "term": "TAOBAO", "site": site.pk})
    assert "This term is already listed as “Taobao”." in refused.content.decode()
    own = SensitiveTerm.objects.get(site=site)
    change = reverse("admin:bot_sensitiveterm_change", args=[own.pk])
    assert admin_client.post(change, {**form, "term": "TAOBAO", "site": site.pk}).status_code == 302
    assert sorted(SensitiveTerm.objects.values_list("term", flat=True)) == ["TAOBAO", "taobao"]


def test_the_scan_action_flags_the_knowledge_base(admin_client, help_centre):
    term = SensitiveTerm.objects.create(term="Alipay", category="competitor", action="mask")
    response = admin_client.post(
        reverse("admin:bot_sensitiveterm_changelist"),
        {"action": "scan_knowledge", "_selected_action": [term.pk]},
        follow=True,
    )
    assert "1 new flags for review" in response.content.decode()
    assert GuardEvent.objects.filter(source="knowledge").count() == 1


def test_guard_events_are_marked_reviewed_by_whoever_looked(admin_client, admin_user):
    event = GuardEvent.objects.create(source="knowledge", outcome="flagged", term_text="x")
    admin_client.post(
        reverse("admin:bot_guardevent_changelist"),
        {"action": "mark_reviewed", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    assert event.reviewed_by == admin_user
    assert event.reviewed_at is not None


def test_bot_settings_are_edited_per_site(admin_client, site):
    response = admin_client.post(
        reverse("admin:bot_botsettings_add"),
        {
            "site": site.pk,
            "persona": "You are Lumi.",
            "faq_threshold": "0.9",
            "answer_threshold": "1.5",
            "max_passages": "3",
            "memory_tokens": "800",
            "cache_seconds": "0",
        },
    )
    assert response.status_code == 200  # 1.5 is not a probability
    assert not BotSettings.objects.exists()
