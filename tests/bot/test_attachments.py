"""A file alone after the visitor left a message: it is in the ticket for the team, so the bot
says so rather than that it cannot open it."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from apps.chat.models import Message
from apps.chat.services import conversation_language_set, conversation_open
from apps.handoff.models import Ticket
from apps.handoff.services import ticket_leave_message
from tests.chat.test_attachment_bot import _media_and_layer, bot_lines, post
from tests.handoff.conftest import english

__all__ = ["_media_and_layer", "english"]  # fixtures borrowed from the chat and handoff tests

pytestmark = pytest.mark.django_db(transaction=True)


async def left_a_message(visitor, *, language: str = "") -> int:
    conversation = await sync_to_async(conversation_open)(visitor=visitor)
    if language:
        await sync_to_async(conversation_language_set)(
            conversation_id=conversation.pk, language=language, replace=True
        )
    await sync_to_async(ticket_leave_message)(
        conversation_id=conversation.pk,
        client_id="left-0001",
        name="Ann",
        email="ann@example.com",
        text="My lamp arrived broken.",
    )
    return conversation.pk


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("", "Thank you, your file has been added to your message for our team."),
        ("zh-hans", "谢谢，您的文件已添加到留言中，会一并转给客服团队。"),
    ],
)
async def test_a_file_after_a_left_message_is_acknowledged_for_the_team(
    async_client, english, visitor, language, line
):
    conversation_id = await left_a_message(visitor, language=language)
    response = await post(async_client, visitor)
    assert response.status_code == 201
    assert await bot_lines(conversation_id) == [line]
    # The file is in the transcript of the ticket the team will answer.
    ticket = await Ticket.objects.aget()
    assert ticket.conversation_id == conversation_id
    assert await Message.objects.filter(
        conversation_id=conversation_id, author_kind="visitor", attachment__isnull=False
    ).aexists()
