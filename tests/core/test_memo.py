from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.bot.models import BotSettings
from apps.bot.pipeline import ask_for
from apps.bot.records import sensitive_terms_add
from apps.bot.selectors import bot_settings_get, guard_matcher
from apps.chat.models import Message
from apps.chat.services import conversation_open, message_create_from_visitor
from apps.core import memo
from apps.core.memo import Memo
from apps.handoff.models import HandoffSettings
from apps.handoff.selectors import handoff_settings_get
from apps.knowledge.selectors import collection_ids_for_site
from apps.knowledge.services.content import collection_create


class Loads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return self.count


def test_a_value_is_read_once_within_its_seconds():
    values, load = Memo(seconds=60), Loads()
    assert [values.get("k", load) for _ in range(3)] == [1, 1, 1]
    assert values.get("other", load) == 2


def test_a_value_is_read_again_once_its_seconds_are_over(monkeypatch):
    values, load = Memo(seconds=1), Loads()
    assert values.get("k", load) == 1
    later = memo.time.monotonic() + 1.01
    monkeypatch.setattr(memo.time, "monotonic", lambda: later)
    assert values.get("k", load) == 2


def test_a_read_that_forget_overtook_is_not_kept():
    values = Memo(seconds=60)

    def load_while_an_admin_saves() -> str:
        values.forget()
        return "read before the save"

    assert values.get("k", load_while_an_admin_saves) == "read before the save"
    assert values.get("k", lambda: "after") == "after"


@pytest.mark.django_db
def test_a_saved_setting_applies_to_the_next_question_at_once(site):
    assert bot_settings_get(site=site).answer_threshold == BotSettings().answer_threshold
    BotSettings.objects.create(site=site, answer_threshold=0.9)
    assert bot_settings_get(site=site).answer_threshold == 0.9
    HandoffSettings.objects.create(site=site, abstain_limit=7)
    assert handoff_settings_get(site=site).abstain_limit == 7


@pytest.mark.django_db
def test_linking_and_unlinking_a_collection_applies_at_once(site):
    assert collection_ids_for_site(site_id=site.pk) == ()
    collection = collection_create(name="Help")
    collection.sites.add(site)
    assert collection_ids_for_site(site_id=site.pk) == (collection.pk,)
    collection.sites.remove(site)
    assert collection_ids_for_site(site_id=site.pk) == ()


@pytest.mark.django_db
def test_terms_added_in_bulk_are_matched_at_once(site):
    assert not guard_matcher(site_id=site.pk).find("buy a fake diploma")
    sensitive_terms_add(terms=["fake diploma"], category="fraud", action="block")
    assert guard_matcher(site_id=site.pk).find("buy a fake diploma")


@pytest.mark.django_db
def test_another_workers_change_applies_within_the_memos_seconds(site, monkeypatch):
    BotSettings.objects.create(site=site, answer_threshold=0.5)
    assert bot_settings_get(site=site).answer_threshold == 0.5
    # An update() sends no signal: as good as a save made by another worker.
    BotSettings.objects.filter(site=site).update(answer_threshold=0.8)
    assert bot_settings_get(site=site).answer_threshold == 0.5
    later = memo.time.monotonic() + memo.SECONDS + 0.01
    monkeypatch.setattr(memo.time, "monotonic", lambda: later)
    assert bot_settings_get(site=site).answer_threshold == 0.8


@pytest.mark.django_db
def test_the_next_question_within_a_second_reads_no_site_settings(site, visitor):
    conversation = conversation_open(visitor=visitor)
    collection_create(name="Help").sites.add(site)

    def question(text: str, client_id: str) -> Message:
        return message_create_from_visitor(
            conversation=conversation, text=text, client_id=client_id
        ).message

    ask_for(conversation_id=conversation.pk, question_id=question("Shipping?", "c-1").pk)
    second = question("And returns?", "c-2")
    with CaptureQueriesContext(connection) as queries:
        ask = ask_for(conversation_id=conversation.pk, question_id=second.pk)

    assert ask.question == "And returns?"
    read = " ".join(query["sql"] for query in queries.captured_queries)
    for table in ("bot_botsettings", "handoff_handoffsettings", "knowledge_collection_sites"):
        assert table not in read
