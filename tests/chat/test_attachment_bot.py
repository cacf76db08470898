"""A visitor's file while the bot holds the conversation, and the event that announces it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.bot.answer import AnswerEvent, AnswerFinal
from apps.bot.services import replies_wait
from apps.chat.events import conversation_group
from apps.chat.models import Attachment, Message
from apps.chat.services import conversation_language_set, conversation_open
from tests.chat import files
from tests.conftest import SITE_ORIGIN, token_for
from tests.handoff.conftest import english

__all__ = ["english"]  # a fixture borrowed from the handoff tests

pytestmark = pytest.mark.django_db(transaction=True)

ASKED: list[str] = []


async def recording(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    """Answers every question with what it was asked."""
    text = await sync_to_async(lambda: Message.objects.get(pk=question_id).text)()
    ASKED.append(text)
    yield AnswerFinal(text=f"about: {text}")


@pytest.fixture(autouse=True)
def _media_and_layer(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    yield
    channel_layers.backends.clear()


async def post(async_client, visitor, **fields):
    data = {
        "token": token_for(visitor),
        "client_id": "att-00000001",
        "name": "broken.png",
        "file": SimpleUploadedFile("x.png", files.png()),
        **fields,
    }
    return await async_client.post(
        f"/api/widget/{visitor.site.public_key}/attachments",
        data=data,
        headers={"Origin": SITE_ORIGIN},
    )


async def bot_lines(conversation_id: int) -> list[str]:
    await replies_wait()
    return await sync_to_async(
        lambda: list(
            Message.objects.filter(conversation_id=conversation_id, author_kind="bot")
            .order_by("seq")
            .values_list("text", flat=True)
        )
    )()


async def test_a_file_alone_is_answered_that_the_bot_cannot_open_it(async_client, english, visitor):
    response = await post(async_client, visitor)
    assert response.status_code == 201
    assert await bot_lines(response.json()["conversation_id"]) == [
        "Sorry, I can't open attachments. Could you describe it in words?"
    ]


async def test_a_chinese_visitor_is_told_in_chinese_and_offered_a_person(
    async_client, visitor, agent
):
    from apps.handoff.services.presence import agent_session_open

    await sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    conversation = await sync_to_async(conversation_open)(visitor=visitor)
    await sync_to_async(conversation_language_set)(
        conversation_id=conversation.pk, language="zh-hans", replace=True
    )
    response = await post(async_client, visitor)
    assert await bot_lines(response.json()["conversation_id"]) == [
        "抱歉，我无法查看附件。您可以用文字描述一下，或者需要为您转接人工客服吗？"
    ]


async def test_a_file_with_a_caption_is_answered_as_the_caption(async_client, visitor, settings):
    settings.CSBOT_ANSWERER = "tests.chat.test_attachment_bot.recording"
    ASKED.clear()
    response = await post(async_client, visitor, caption="Is this damage covered?")
    assert await bot_lines(response.json()["conversation_id"]) == ["about: Is this damage covered?"]
    assert ASKED == ["Is this damage covered?"]


async def test_the_stored_file_is_announced_as_a_chat_message_event(async_client, visitor):
    conversation = await sync_to_async(conversation_open)(visitor=visitor)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(conversation_group(conversation.pk), channel)

    response = await post(async_client, visitor, caption="Look")
    event = await layer.receive(channel)

    attachment = await sync_to_async(Attachment.objects.select_related("message").get)()
    message = attachment.message
    assert event == {
        "type": "chat.message",
        "conversation_id": conversation.pk,
        "message": {
            "id": message.pk,
            "seq": 1,
            "author": "visitor",
            "author_name": "",
            "text": "Look",
            "citations": [],
            "state": "complete",
            "client_id": "att-00000001",
            "created_at": message.created_at.isoformat(),
            "attachment": {
                "id": attachment.pk,
                "name": "broken.png",
                "size": len(files.png()),
                "content_type": "image/png",
                "width": 3,
                "height": 2,
                "url": event["message"]["attachment"]["url"],
            },
        },
    }
    assert event["message"]["attachment"]["url"].startswith(f"/api/attachments/{attachment.pk}?s=")
    assert response.json()["message"]["id"] == message.pk
    await replies_wait()
