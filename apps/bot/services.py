"""Run the bot's reply to a visitor message as a task of its own, persisting and publishing it."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from apps.bot.answer import AnswerDelta, Answerer, AnswerFinal, AnswerReset
from apps.chat import events
from apps.chat.models import Conversation, Message
from apps.chat.selectors import conversation_status
from apps.chat.services import ConversationStatusChanged, message_create, message_finish

logger = logging.getLogger(__name__)

# Replies outlive the socket that asked: a visitor who reconnects gets the finished answer.
# asyncio keeps only weak references to tasks, so the running ones are held here.
_running: set[asyncio.Task[None]] = set()


def answerer_get() -> Answerer:
    return import_string(settings.CSBOT_ANSWERER)


def reply_start(*, conversation_id: int, question_id: int) -> asyncio.Task[None]:
    """Start answering ``question_id`` in the background; return the task."""
    task = asyncio.get_running_loop().create_task(
        reply_run(conversation_id=conversation_id, question_id=question_id),
        name=f"csbot-reply-{conversation_id}-{question_id}",
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


async def replies_wait() -> None:
    """Wait for every reply this process is running (shutdown and tests)."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)


async def _bot_holds(conversation_id: int) -> None:
    """Raise ``ConversationStatusChanged`` unless the bot still holds the conversation."""
    status = await database_sync_to_async(conversation_status)(conversation_id=conversation_id)
    if status != Conversation.Status.BOT:
        raise ConversationStatusChanged(conversation_id)


async def reply_run(*, conversation_id: int, question_id: int) -> None:
    """Answer one visitor message, checking right before every send that the bot still holds it.

    Once the conversation is waiting for or with an agent, nothing more of the answer is
    published or stored, and a message already started is closed as interrupted.
    """
    message: Message | None = None
    streamed: list[str] = []
    offset = 0

    async def ensure_message() -> Message:
        nonlocal message
        if message is None:
            message = await database_sync_to_async(message_create)(
                conversation_id=conversation_id,
                author_kind=Message.AuthorKind.BOT,
                text="",
                state=Message.State.STREAMING,
                owner=Conversation.Status.BOT,
            )
        return message

    answerer = answerer_get()
    try:
        async with aclosing(
            answerer(conversation_id=conversation_id, question_id=question_id)
        ) as answer:
            async for event in answer:
                if isinstance(event, AnswerDelta):
                    if not event.text:
                        continue
                    current = await ensure_message()
                    await _bot_holds(conversation_id)
                    await events.delta_publish(
                        conversation_id=conversation_id,
                        message_id=current.pk,
                        seq=current.seq,
                        offset=offset,
                        text=event.text,
                    )
                    streamed.append(event.text)
                    offset += len(event.text)
                elif isinstance(event, AnswerReset):
                    if message is not None:
                        await events.reset_publish(
                            conversation_id=conversation_id, message_id=message.pk, seq=message.seq
                        )
                    streamed.clear()
                    offset = 0
                elif isinstance(event, AnswerFinal):
                    state = Message.State.COMPLETE if event.complete else Message.State.INTERRUPTED
                    if message is None:
                        # Not streamed: stored and published whole, in one owned step.
                        await database_sync_to_async(message_create)(
                            conversation_id=conversation_id,
                            author_kind=Message.AuthorKind.BOT,
                            text=event.text,
                            state=state,
                            citations=event.citations,
                            owner=Conversation.Status.BOT,
                        )
                    else:
                        await database_sync_to_async(message_finish)(
                            message=message,
                            text=event.text,
                            state=state,
                            citations=event.citations,
                            owner=Conversation.Status.BOT,
                        )
                    return
        raise RuntimeError(f"{settings.CSBOT_ANSWERER} ended without an AnswerFinal")
    except ConversationStatusChanged:
        logger.info(
            "conversation %s left the bot; the reply to message %s is dropped",
            conversation_id,
            question_id,
        )
        await _close_interrupted(message, streamed)
    except Exception:
        logger.exception(
            "reply to message %s in conversation %s failed", question_id, conversation_id
        )
        await _close_interrupted(message, streamed)


async def _close_interrupted(message: Message | None, streamed: list[str]) -> None:
    """End a started answer with only the text the visitor has already seen."""
    if message is not None:
        await database_sync_to_async(message_finish)(
            message=message, text="".join(streamed), state=Message.State.INTERRUPTED
        )
