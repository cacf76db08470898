"""Run the bot's reply to a visitor message as a task of its own, persisting and publishing it.

A streamed answer holds a lease on its message: ``updated_at`` is a heartbeat the reply renews
(with the text so far) while the bot still holds the conversation. A message left ``streaming``
with a heartbeat older than ``CSBOT_REPLY_LEASE_SECONDS`` lost its writer (the worker died): the
sweep closes it ``interrupted`` and hands the conversation to a human.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from functools import partial

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import Case, TextField, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.bot.answer import AnswerDelta, Answerer, AnswerFinal, AnswerReset, AnswerStarted
from apps.chat import events
from apps.chat.models import Conversation, Message
from apps.chat.services import ConversationStatusChanged, message_create, message_finish
from apps.handoff.details import HandoffDetail
from apps.handoff.models import Ticket
from apps.handoff.services import handoff_request
from apps.llm.loopbound import LoopBound

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


def heartbeat_seconds() -> float:
    """How often streaming replies renew their leases: ten times within one lease."""
    return settings.CSBOT_REPLY_LEASE_SECONDS / 10


# Heartbeats run on a thread of their own, not on the worker's one database thread that every
# socket and reply queues on: under load that queue grew longer than a lease, and the sweep
# took live answers for dead ones (bench.load, 500 answers at once on one worker: 100 of them).
_heartbeat_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="csbot-heartbeat")

# Three query parameters an answer: SQLite allows 999 a statement.
_HEARTBEAT_BATCH = 300


def replies_heartbeat(texts: Mapping[int, str]) -> set[int]:
    """Save streaming answers' text so far and renew their leases; return the ids still held.

    An answer is no longer held once its conversation left the bot or the sweep closed it.
    Renewal and ownership check are one conditional UPDATE for up to ``_HEARTBEAT_BATCH``
    answers; the renewed rows are then told apart by the timestamp that UPDATE wrote.
    """
    renewed_at = timezone.now()
    ids = list(texts)
    for start in range(0, len(ids), _HEARTBEAT_BATCH):
        batch = ids[start : start + _HEARTBEAT_BATCH]
        Message.objects.filter(
            pk__in=batch,
            state=Message.State.STREAMING,
            conversation__status=Conversation.Status.BOT,
        ).update(
            text=Case(
                *(When(pk=pk, then=Value(texts[pk])) for pk in batch), output_field=TextField()
            ),
            updated_at=renewed_at,
        )
    return set(
        Message.objects.filter(
            pk__in=ids, state=Message.State.STREAMING, updated_at=renewed_at
        ).values_list("pk", flat=True)
    )


def _heartbeat_on_its_thread(texts: Mapping[int, str]) -> set[int]:
    try:
        return replies_heartbeat(texts)
    finally:
        # Closed here, in the context the query ran in. channels' database_sync_to_async closes
        # in the thread's own context, which did not see this connection: on a thread of one's
        # own it stayed checked out of the pool (a test database then could not be dropped).
        close_old_connections()


class _Heartbeat:
    """The running loop's streaming answers, their leases renewed together once a beat.

    One statement a beat for all of a worker's answers, not one each: with hundreds streaming,
    a statement per answer and beat kept the heartbeat thread and the database busy, and under
    overload some leases lapsed while their answers were still streaming.
    """

    def __init__(self) -> None:
        self._streams: set[_Stream] = set()
        self._beating: asyncio.Task[None] | None = None

    def join(self, stream: _Stream) -> None:
        self._streams.add(stream)
        if self._beating is None or self._beating.done():
            self._beating = asyncio.create_task(self._beat(), name="csbot-reply-heartbeat")

    def leave(self, stream: _Stream) -> None:
        self._streams.discard(stream)

    async def _beat(self) -> None:
        while self._streams:
            await asyncio.sleep(heartbeat_seconds())
            texts = {stream: stream.text for stream in self._streams}
            if not texts:
                return
            try:
                held = await sync_to_async(
                    _heartbeat_on_its_thread, thread_sensitive=False, executor=_heartbeat_thread
                )({stream.message.pk: text for stream, text in texts.items()})
            except DatabaseError:
                # A brief outage: beat again. A long one lets the leases expire, as if dead.
                logger.warning("renewing %d answers' leases failed", len(texts), exc_info=True)
                continue
            for stream, text in texts.items():
                if stream.message.pk in held:
                    stream.saved = text
                else:
                    stream.lost = True
                    self.leave(stream)


_heartbeats = LoopBound(_Heartbeat)


class _Stream:
    """A started answer: its message, the text published so far, what the last beat saved."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.pieces: list[str] = []
        self.saved = message.text
        self.lost = False
        self._length = 0
        self._unsent: list[str] = []
        self._sending: asyncio.Task[None] | None = None
        # The event loop's time before which the next delta waits (the first goes at once).
        self._next_delta_at = 0.0

    @classmethod
    async def open(cls, conversation_id: int) -> _Stream:
        """Create the bot's answer, empty and streaming, while the bot still holds the
        conversation, and renew its lease from now on: a model may think longer than a lease
        before its first token."""
        stream = cls(
            await database_sync_to_async(message_create)(
                conversation_id=conversation_id,
                author_kind=Message.AuthorKind.BOT,
                text="",
                state=Message.State.STREAMING,
                owner=Conversation.Status.BOT,
            )
        )
        _heartbeats.get().join(stream)
        return stream

    def send(self, text: str) -> None:
        """Publish ``text`` after everything sent before it.

        Deltas go out at most every ``CSBOT_DELTA_INTERVAL_MS``, the first at once; text that
        arrives in between, or while a publish is under way, goes out with the next one as one
        delta. A model streaming chunks faster than that, or a worker behind on its streams,
        costs a publish, an event per socket and a frame per window instead of per chunk.
        """
        self._unsent.append(text)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_unsent())

    async def _send_unsent(self) -> None:
        loop = asyncio.get_running_loop()
        while self._unsent:
            wait = self._next_delta_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                if not self._unsent:
                    return  # stopped meanwhile
            self._next_delta_at = loop.time() + settings.CSBOT_DELTA_INTERVAL_MS / 1000
            text = "".join(self._unsent)
            self._unsent.clear()
            await events.delta_publish(
                conversation_id=self.message.conversation_id,
                message_id=self.message.pk,
                seq=self.message.seq,
                offset=self._length,
                text=text,
            )
            self.pieces.append(text)
            self._length += len(text)

    async def sent(self) -> None:
        """Wait until everything given to ``send`` is published."""
        if self._sending is not None:
            await self._sending

    def stop(self) -> None:
        """Stop renewing the lease and publishing (also from a task callback): the final write
        or the interruption comes next. A publish or a beat already under way may still end;
        neither can undo that write, which ends the streaming state both require (renewals in
        the database, deltas in the widget)."""
        self._unsent.clear()
        _heartbeats.get().leave(self)

    @property
    def text(self) -> str:
        """What was published: what the visitor may have been shown."""
        return "".join(self.pieces)

    async def reset(self) -> None:
        """Drop the text of an attempt being regenerated and tell the visitor to discard it."""
        await self.sent()
        await events.reset_publish(
            conversation_id=self.message.conversation_id,
            message_id=self.message.pk,
            seq=self.message.seq,
        )
        self.pieces.clear()
        self._length = 0
        self.saved = ""


async def reply_run(*, conversation_id: int, question_id: int) -> None:
    """Answer one visitor message while the bot holds the conversation.

    Ownership is checked once a heartbeat while streaming (the visitor's socket drops bot deltas
    as soon as it hears of a takeover) and inside every final write. Once the conversation is
    waiting for or with an agent, nothing more is published or stored, and a started message is
    closed interrupted with the text its last heartbeat saved while the bot held it.
    """
    stream: _Stream | None = None
    # The answer's message, created while the model thinks (``AnswerStarted``).
    opening: asyncio.Task[_Stream] | None = None
    answerer = answerer_get()
    try:
        async with aclosing(
            answerer(conversation_id=conversation_id, question_id=question_id)
        ) as answer:
            async for event in answer:
                if isinstance(event, AnswerStarted):
                    if opening is None and stream is None:
                        opening = asyncio.create_task(_Stream.open(conversation_id))
                elif isinstance(event, AnswerDelta):
                    if not event.text:
                        continue
                    if stream is None:
                        stream = await (opening or _Stream.open(conversation_id))
                    if stream.lost:
                        raise ConversationStatusChanged(conversation_id)
                    stream.send(event.text)
                elif isinstance(event, AnswerReset):
                    if stream is not None:
                        await stream.reset()
                elif isinstance(event, AnswerFinal):
                    if stream is None and opening is not None:
                        stream = await opening
                    if stream is not None:
                        await stream.sent()
                        stream.stop()
                    await _store_final(conversation_id, stream, event)
                    return
        raise RuntimeError(f"{settings.CSBOT_ANSWERER} ended without an AnswerFinal")
    except ConversationStatusChanged:
        logger.info(
            "conversation %s left the bot; the reply to message %s is dropped",
            conversation_id,
            question_id,
        )
        await _close_interrupted(stream or await _opened(opening), taken_over=True)
    except Exception:
        logger.exception(
            "reply to message %s in conversation %s failed", question_id, conversation_id
        )
        await _close_interrupted(stream or await _opened(opening), taken_over=False)
    finally:
        if stream is not None:
            stream.stop()
        if opening is not None:
            # Also when this reply was cancelled before its message was created: once it is,
            # nothing renews its lease, and the sweep closes it as a dead worker's.
            opening.add_done_callback(_stop_opened)


def _stop_opened(opening: asyncio.Task[_Stream]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().stop()


async def _opened(opening: asyncio.Task[_Stream] | None) -> _Stream | None:
    """The message an interrupted reply had created, if it did: it must not stay streaming.

    Awaited, never cancelled: a cancelled task may still have created the row on its thread.
    """
    if opening is None:
        return None
    try:
        return await opening
    except Exception:
        # Refused (the conversation left the bot) or failed: nothing to close.
        return None


async def _store_final(conversation_id: int, stream: _Stream | None, final: AnswerFinal) -> None:
    """Store the final answer in one owned step (created whole if nothing was streamed)."""
    state = Message.State.COMPLETE if final.complete else Message.State.INTERRUPTED
    if stream is None:
        await database_sync_to_async(message_create)(
            conversation_id=conversation_id,
            author_kind=Message.AuthorKind.BOT,
            text=final.text,
            state=state,
            citations=final.citations,
            owner=Conversation.Status.BOT,
        )
        return
    await database_sync_to_async(message_finish)(
        message=stream.message,
        text=final.text,
        state=state,
        citations=final.citations,
        owner=Conversation.Status.BOT,
    )


async def _close_interrupted(stream: _Stream | None, *, taken_over: bool) -> None:
    """End a started answer that failed: all it streamed while the bot still holds the
    conversation, else what its last heartbeat saved (never text from after a takeover)."""
    if stream is None:
        return
    stream.stop()
    if not taken_over:
        try:
            await database_sync_to_async(message_finish)(
                message=stream.message,
                text=stream.text,
                state=Message.State.INTERRUPTED,
                owner=Conversation.Status.BOT,
            )
            return
        except ConversationStatusChanged:
            pass
    await database_sync_to_async(message_finish)(
        message=stream.message, text=stream.saved, state=Message.State.INTERRUPTED
    )


# --- recovering the answers of a worker that died ----------------------------------------------


def replies_recover(*, conversation_id: int | None = None, limit: int = 100) -> list[int]:
    """Close streaming answers whose lease expired as interrupted, and hand their conversations
    over (reason ``interrupted``); return the ids of the messages closed.

    Each close is a conditional UPDATE in the transaction that hands over: of several workers
    sweeping at once exactly one closes a message, announces it and opens the ticket. The text
    stays what the last heartbeat saved: all we know the visitor was shown.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=settings.CSBOT_REPLY_LEASE_SECONDS)
    stale = Message.objects.filter(
        author_kind=Message.AuthorKind.BOT, state=Message.State.STREAMING, updated_at__lt=cutoff
    )
    if conversation_id is not None:
        stale = stale.filter(conversation_id=conversation_id)
    closed: list[int] = []
    for message in stale.order_by("pk")[:limit]:
        with transaction.atomic():
            won = Message.objects.filter(
                pk=message.pk, state=Message.State.STREAMING, updated_at__lt=cutoff
            ).update(state=Message.State.INTERRUPTED, updated_at=timezone.now())
            if won != 1:
                continue
            message.state = Message.State.INTERRUPTED
            transaction.on_commit(partial(events.message_finished, message))
            handoff_request(
                conversation_id=message.conversation_id,
                reason=Ticket.Reason.INTERRUPTED,
                detail=HandoffDetail("worker_lost"),
                by="system",
            )
        logger.warning(
            "answer %s in conversation %s lost its worker; closed and handed over",
            message.pk,
            message.conversation_id,
        )
        closed.append(message.pk)
    return closed


async def replies_sweep_forever() -> None:
    """Recover dead workers' answers now and every half lease, until cancelled (worker lifespan)."""
    while True:
        try:
            await database_sync_to_async(replies_recover)()
        except Exception:
            # A database outage must not end the sweep: the next round retries.
            logger.exception("sweeping interrupted answers failed")
        await asyncio.sleep(settings.CSBOT_REPLY_LEASE_SECONDS / 2)
