"""The Chinese admin labels every field of the knowledge, bot, model, chat and outcome models.

A field without a translated verbose_name is labelled with its English attribute name
("Site", "Provider", "Heading path") even in the Chinese admin; so is an admin column or
read-only value without a translated description.
"""

from __future__ import annotations

import re
import uuid

import lxml.html
import pytest
from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import reverse

from apps.analytics.models import AnswerFeedback, CsatResponse, OutcomeSettings
from apps.bot.models import AnswerAudit, AnswerCheck, BotSettings, GuardEvent, SensitiveTerm
from apps.chat.models import Conversation, Message, Visitor
from apps.handoff.models import Ticket
from apps.knowledge.models import (
    Collection,
    DictionaryWord,
    ImportJob,
    Passage,
    ProtectedPattern,
    SynonymGroup,
)
from apps.llm.models import ModelPrice, ModelProvider, ModelRoute, UsageRecord
from apps.sites.models import Site

pytestmark = pytest.mark.django_db

APPS = ("analytics", "bot", "chat", "knowledge", "llm")
_HAN = re.compile(r"[\u3400-\u9fff]")
# Django's own label for a primary key, untranslated in its catalogs too: "ID" is how Chinese
# software writes it.
_LATIN_IN_CHINESE = {"ID"}


@pytest.fixture
def one_of_each(site: Site, visitor: Visitor, help_centre: Collection, admin_user: object) -> None:
    """A row of every model those apps register in admin, each pointing at the others."""
    conversation = Conversation.objects.create(site=site, visitor=visitor)
    question = Message.objects.create(
        conversation=conversation, seq=1, author_kind="visitor", text="How long?"
    )
    reply = Message.objects.create(
        conversation=conversation, seq=2, author_kind="bot", text="Three days."
    )
    passage = Passage.objects.filter(faq__isnull=False).first()
    assert passage is not None
    BotSettings.objects.create(site=site)
    term = SensitiveTerm.objects.create(term="refund", category="other", site=site)
    GuardEvent.objects.create(
        source="input",
        outcome="blocked",
        site=site,
        conversation=conversation,
        message=question,
        term=term,
        faq=passage.faq,
        reviewed_by=admin_user,
    )
    AnswerAudit.objects.create(
        conversation=conversation,
        question=question,
        reply=reply,
        language="en",
        standalone="How long?",
        decision="answer",
        reason="evidence",
    )
    AnswerCheck.objects.create(site=site, question="How long?", expected_entries="faq-1")
    provider = ModelProvider.objects.create(site=site, preset="deepseek", name="DeepSeek")
    route = ModelRoute.objects.create(provider=provider, model="deepseek-chat")
    price = ModelPrice.objects.create(provider="deepseek", model="deepseek-chat")
    UsageRecord.objects.create(
        call_id=uuid.uuid4(),
        purpose="answer",
        provider="deepseek",
        model="deepseek-chat",
        outcome="ok",
        site=site,
        conversation=conversation,
        message=reply,
        route=route,
        price=price,
    )
    DictionaryWord.objects.create(word="光环落地灯")
    SynonymGroup.objects.create(terms="退款 = 退钱")
    ProtectedPattern.objects.create(name="product code", pattern=r"[A-Z]{2}-\d{4}")
    ImportJob.objects.create(
        collection=help_centre, file_name="faq.csv", format="csv", created_by=admin_user
    )
    OutcomeSettings.objects.create(site=site)
    AnswerFeedback.objects.create(site=site, conversation=conversation, message=reply, value="up")
    ticket = Ticket.objects.create(
        site=site, conversation=conversation, visitor=visitor, reason="customer_request"
    )
    CsatResponse.objects.create(site=site, conversation=conversation, ticket=ticket, rating=5)


def _registered() -> list[type[models.Model]]:
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label in APPS),
        key=lambda model: model._meta.label,
    )


def _labels(html: str) -> list[str]:
    """The field labels of a change form: its fields, read-only values and inline columns."""
    page = lxml.html.fromstring(html)
    labels = page.xpath(
        "//*[@id='content-main']//fieldset//label"
        " | //*[@id='content-main']//div[contains(@class, 'tabular')]//thead//th"
    )
    texts = (" ".join(label.text_content().split()).rstrip(":：") for label in labels)
    return [text for text in texts if text]


@pytest.mark.parametrize("model", _registered(), ids=lambda model: model._meta.label)
def test_every_change_form_label_is_in_chinese_in_the_chinese_admin(
    admin_client: Client, one_of_each: None, model: type[models.Model]
) -> None:
    row = model._default_manager.first()
    assert row is not None, f"no {model._meta.label} to open"
    opts = model._meta
    page = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]),
        headers={"accept-language": "zh-hans"},
    )
    assert page.status_code == 200
    labels = _labels(page.content.decode())
    assert labels, "no labels found: the page's markup changed"
    latin = [label for label in labels if not _HAN.search(label)]
    assert [label for label in latin if label not in _LATIN_IN_CHINESE] == []
