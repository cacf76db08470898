"""The conversation page of the Chinese admin reads in Chinese, events' details included."""

from __future__ import annotations

import lxml.html
import pytest
from django.urls import reverse

from apps.chat.models import Conversation, ConversationEvent

pytestmark = pytest.mark.django_db


def test_a_conversation_and_its_events_read_in_chinese(admin_client, site, visitor):
    conversation = Conversation.objects.create(site=site, visitor=visitor)
    ConversationEvent.objects.create(
        conversation=conversation,
        kind="handoff.requested",
        data={
            "reason": "repeated_failure",
            "detail": "2 question(s) in a row without a grounded answer",
            "detail_code": "unanswered",
            "detail_values": {"count": 2},
            "by": "bot",
            "ticket": 7,
        },
    )

    page = admin_client.get(
        reverse("admin:chat_conversation_change", args=[conversation.pk]),
        headers={"accept-language": "zh-hans"},
    ).content.decode()
    tree = lxml.html.fromstring(page)
    labels = [
        " ".join(label.text_content().split()).rstrip(":：") for label in tree.xpath("//label")
    ]
    headings = [" ".join(h.text_content().split()) for h in tree.xpath("//fieldset//h2")]
    columns = [" ".join(th.text_content().split()) for th in tree.xpath("//thead//th")]
    details = tree.xpath("//td[contains(@class, 'field-details')]")[0].text_content()

    assert {"站点", "访客", "最新序号"} <= set(labels)
    assert "会话事件" in headings
    assert {"发送者类型", "创建时间", "详情"} <= set(columns)
    assert "Site" not in labels
    assert "原因：机器人连续多次未能回答" in details
    assert "详情：连续 2 个问题没有可依据的答案" in details
    assert "触发方：机器人" in details
    assert "工单：7" in details
    assert "question(s)" not in details
    assert "{" not in details
