"""The visitor's websocket (``/ws/chat/?site=KEY``): thin, validates frames, calls services."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError
from django.utils import timezone

from apps.analytics.selectors import csat_request_for
from apps.analytics.services import RatingRejected, csat_record, feedback_record
from apps.bot.services import replies_recover, reply_start
from apps.chat import events, protocol
from apps.chat.layerwatch import socket_opened
from apps.chat.models import Conversation, Message, Visitor
from apps.chat.selectors import (
    conversation_get,
    conversation_status,
    messages_after,
    visitor_exists,
)
from apps.chat.services import (
    conversation_next,
    conversation_read,
    visitor_hello,
    visitor_identify,
)
from apps.chat.tokens import visitor_token_read
from apps.chat.visitor_messages import (
    VisitorMessageRefused,
    Written,
    visitor_conversation_write,
    visitor_message_admit,
    visitor_message_send,
    visitor_writes_count,
)
from apps.core.consumers import JsonConsumer
from apps.core.lib.jsontext import json_parse
from apps.core.ratelimit import rate_limit_hit, slot_acquire, slot_release
from apps.handoff.details import HandoffDetail
from apps.handoff.models import Ticket
from apps.handoff.selectors import visitor_left_contact
from apps.handoff.services import handoff_request, ticket_leave_message
from apps.handoff.services.stranded import handoff_return_status
from apps.sites.selectors import site_get_by_key, site_origin_allowed

logger = logging.getLogger(__name__)

# Resumes a visitor may ask for a minute, over all their sockets: each reads up to 500 rows.
# A widget resumes once per reconnect, so several tabs coming back after an outage stay well
# under it; a script replaying the history in a loop does not.
RESUMES_PER_MINUTE = 30

Stored = TypeVar("Stored")
# Seconds before a visitor's repeated "typing" is relayed again (the widget repeats every 3).
TYPING_REPEAT = 2.0

# Close codes (docs/protocol.md).
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_UNKNOWN_SITE = 4404
CLOSE_CONVERSATION_DELETED = 4410
CLOSE_TOO_MANY_SOCKETS = 4429
# RFC 6455 "try again later": the widget reconnects with its backoff.
CLOSE_TRY_AGAIN_LATER = 1013


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _hello_load(
    *, public_id: str, site_id: int, page_url: str, page_title: str
) -> tuple[Visitor, Conversation, dict[str, str]] | None:
    """What ``ready`` needs, in one turn of the database thread (``visitor_hello``): the visitor,
    seen now on that page, their conversation and the contact their leave-a-message form
    starts with."""
    found = visitor_hello(
        public_id=public_id, site_id=site_id, page_url=page_url, page_title=page_title
    )
    if found is None:
        return None
    visitor, conversation = found
    return visitor, conversation, visitor_left_contact(visitor_id=visitor.pk)


class VisitorChatConsumer(JsonConsumer):
    # Until connect sets them: a connect that fails early still disconnects cleanly.
    holds_slot = False
    conversation_id: int | None = None
    # The socket's first resume checks a waiting conversation (``handoff_return_status``).
    returned = False
    # It found it still waiting, and no frame came since: the widget's own handoff.request
    # right after ``resumed`` is answered from that check.
    return_checked_waiting = False

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        site_key = (query.get("site") or [""])[0][:40]
        if "\x00" in site_key:
            site_key = ""  # no site key has one, and PostgreSQL would refuse it with an error
        self.site = (
            await database_sync_to_async(site_get_by_key)(public_key=site_key) if site_key else None
        )
        self.visitor = None
        # Who holds the conversation, as this socket last heard: bot deltas arriving after a
        # takeover was announced are dropped here too, whatever worker streamed them.
        self.status = ""
        # Seqs of messages this socket has shown, so a replay and a live event never both show one.
        self.delivered: set[int] = set()
        # Seqs of the answers it showed streaming and not yet done: only their deltas are relayed,
        # never a delta of an answer a takeover closed, even once the bot holds the conversation
        # again.
        self.streaming: set[int] = set()
        self.typing_active: bool | None = None
        self.typing_relayed_at = 0.0
        client = self.scope.get("client") or ("", 0)
        self.client_ip = client[0]
        # A close code must follow an accepted handshake to reach the browser.
        await self.accept()
        # Redis round trips: on a thread of their own, neither blocking this worker's other
        # sockets nor queueing behind their database calls.
        if not await sync_to_async(slot_acquire, thread_sensitive=False)(
            scope="visitor-sockets", key=self.client_ip, limit=settings.CSBOT_SOCKETS_PER_IP
        ):
            await self.close(
                code=CLOSE_TOO_MANY_SOCKETS, reason="too many open sockets from this address"
            )
            return
        self.holds_slot = True
        socket_opened(self)
        if self.site is None:
            await self.close(code=CLOSE_UNKNOWN_SITE, reason="unknown site")
            return
        origin = _header(self.scope, b"origin")
        if not site_origin_allowed(site=self.site, origin=origin):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN, reason="origin not allowed for this site")
            return

    async def disconnect(self, code: int) -> None:
        if self.holds_slot:
            self.holds_slot = False
            await sync_to_async(slot_release, thread_sensitive=False)(
                scope="visitor-sockets", key=self.client_ip
            )
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(
                events.conversation_group(self.conversation_id), self.channel_name
            )

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error("bad_frame", "frames are JSON text, not binary")
            return
        if len(text_data.encode("utf-8")) > settings.CSBOT_MAX_FRAME_BYTES:
            await self.send_error(
                "frame_too_large", f"a frame is at most {settings.CSBOT_MAX_FRAME_BYTES} bytes"
            )
            return
        try:
            data = json_parse(text_data)
        except ValueError as exc:
            await self.send_error("bad_json", f"the frame is not valid JSON: {exc}")
            return
        try:
            frame = protocol.frame_parse(data)
        except protocol.FrameError as exc:
            await self.send_error(
                exc.code, exc.message, client_id=_client_id_of(data), field=exc.field
            )
            return
        try:
            await self.dispatch_frame(frame)
        except DatabaseError:
            logger.exception("database unavailable while handling %s", type(frame).__name__)
            await self.send_error(
                "unavailable",
                "the server could not store this right now; retry",
                client_id=_client_id_of(data),
            )
        except ObjectDoesNotExist:
            if self.visitor is None or await database_sync_to_async(visitor_exists)(
                visitor_id=self.visitor.pk
            ):
                raise
            await self.visitor_gone()

    async def visitor_gone(self) -> None:
        """The visitor was erased (a data-protection request): their token names nobody now,
        so the widget starts afresh as a new visitor."""
        await self.close(code=CLOSE_UNAUTHORIZED, reason="the visitor was erased")

    async def dispatch_frame(self, frame: protocol.Frame) -> None:
        just_checked, self.return_checked_waiting = self.return_checked_waiting, False
        if isinstance(frame, protocol.Ping):
            await self.send_json({"type": "pong"})
        elif isinstance(frame, protocol.Hello):
            await self.on_hello(frame)
        elif self.visitor is None:
            await self.send_error("hello_required", "send a hello frame with your token first")
        elif isinstance(frame, protocol.Resume):
            await self.on_resume(frame)
        elif isinstance(frame, protocol.MessageSend):
            await self.on_message_send(frame)
        elif isinstance(frame, protocol.Read):
            await self.on_read(frame)
        elif isinstance(frame, protocol.Typing):
            await self.on_typing(frame)
        elif isinstance(frame, protocol.HandoffRequest):
            await self.on_handoff_request(just_checked=just_checked)
        elif isinstance(frame, protocol.LeaveMessage):
            await self.on_leave_message(frame)
        elif isinstance(frame, protocol.Feedback):
            await self.on_feedback(frame)
        elif isinstance(frame, protocol.Csat):
            await self.on_csat(frame)
        elif isinstance(frame, protocol.Identify):
            self.visitor = await database_sync_to_async(visitor_identify)(
                visitor=self.visitor,
                name=frame.name,
                email=frame.email,
                external_id=frame.external_id,
            )
            await self.send_json({"type": "identified"})

    async def on_hello(self, frame: protocol.Hello) -> None:
        if self.visitor is not None:
            await self.send_error("already_hello", "this socket already said hello")
            return
        claim = visitor_token_read(frame.token)
        found = None
        if claim is not None and claim.site_key == self.site.public_key:
            found = await database_sync_to_async(_hello_load)(
                public_id=claim.visitor_public_id,
                site_id=self.site.pk,
                page_url=frame.page_url,
                page_title=frame.page_title,
            )
        if found is None:
            await self.send_error(
                "unauthorized", "the visitor token is invalid or expired; fetch a new one"
            )
            await self.close(code=CLOSE_UNAUTHORIZED, reason="invalid visitor token")
            return
        visitor, conversation, contact = found
        self.visitor = visitor
        await self.join_conversation(conversation)
        await self.send_json(
            {
                "type": "ready",
                "v": protocol.PROTOCOL_VERSION,
                "visitor_id": str(visitor.public_id),
                # What the widget's leave-a-message form starts with.
                "contact": contact,
                "conversation": _conversation_frame(conversation),
            }
        )

    async def start_conversation(self) -> None:
        """Leave a closed conversation for the visitor's next one (``conversation_next``)."""
        conversation = await database_sync_to_async(conversation_next)(
            visitor=self.visitor, closed_id=self.conversation_id
        )
        await self.move_to(conversation)

    async def move_to(self, conversation: Conversation) -> None:
        """Move to the visitor's next conversation; tell the widget, and show it what another
        tab already wrote there. Replayed whatever ``conversation.last_seq`` said when it was
        read: a message stored since then, before this socket joined, is only in the replay."""
        await self.join_conversation(conversation)
        await self.send_json(
            {"type": "conversation.new", "conversation": _conversation_frame(conversation)}
        )
        await self.replay(after_seq=0)

    async def join_conversation(self, conversation: Conversation) -> None:
        conversation_id = conversation.pk
        self.status = conversation.status
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(
                events.conversation_group(self.conversation_id), self.channel_name
            )
        self.conversation_id = conversation_id
        self.delivered.clear()
        self.streaming.clear()
        self.joined_last_seq = conversation.last_seq
        self.read_seq = 0
        # Joined before any replay is read, so nothing published in between is missed.
        await self.channel_layer.group_add(
            events.conversation_group(conversation_id), self.channel_name
        )

    async def on_resume(self, frame: protocol.Resume) -> None:
        if await self.resumes_over_limit():
            # A client waits for resumed before it sends anything: left open without one, it
            # would sit silent. Closed, it comes back with its reconnect backoff.
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        await self.replay(after_seq=frame.last_seq)
        if self.returned:
            self.status = await database_sync_to_async(conversation_status)(
                conversation_id=self.conversation_id
            )
        else:
            # Back after a reload or a reconnect: nobody left who could take a waiting
            # conversation gives it back to the bot now (once per socket).
            self.returned = True
            self.status = await database_sync_to_async(handoff_return_status)(
                conversation_id=self.conversation_id
            )
            self.return_checked_waiting = self.status == Conversation.Status.WAITING
        await self.send_json({"type": "resumed", "status": self.status})
        await self.csat_offer()

    async def replay(self, *, after_seq: int) -> None:
        """Send the conversation's messages after ``after_seq``, each as ``message.new``."""
        missed = await database_sync_to_async(messages_after)(
            conversation_id=self.conversation_id, after_seq=after_seq
        )
        if any(payload["state"] == Message.State.STREAMING for payload in missed):
            # Maybe a dead worker's answer: recover it now, not at the next periodic sweep.
            await database_sync_to_async(replies_recover)(conversation_id=self.conversation_id)
        for payload in missed:
            if payload["seq"] in self.delivered:
                continue  # heard live since hello: a second message.new would show it twice
            self.deliver(payload)
            await self.send_json({"type": "message.new", "message": payload})

    def deliver(self, payload: events.MessagePayload) -> None:
        self.delivered.add(payload["seq"])
        if payload["state"] == Message.State.STREAMING:
            self.streaming.add(payload["seq"])

    async def on_read(self, frame: protocol.Read) -> None:
        # Only forward, and only up to a message that existed when this socket joined or that
        # it delivered since (a reconnected widget resumes after what it already shows): the
        # conversation's row, which every stored message locks, is written at most once per
        # message, whatever a client sends.
        newest = max(self.joined_last_seq, max(self.delivered, default=0))
        if not self.read_seq < frame.seq <= newest:
            return
        self.read_seq = frame.seq
        await database_sync_to_async(conversation_read)(
            conversation_id=self.conversation_id, seq=frame.seq
        )

    async def on_message_send(self, frame: protocol.MessageSend) -> None:
        if await self.refused(visitor_message_admit, client_id=frame.client_id):
            return
        received = await self.write(
            partial(visitor_message_send, client_id=frame.client_id, text=frame.text)
        )
        try:
            await self.send_json(
                {
                    "type": "message.ack",
                    "client_id": frame.client_id,
                    "id": received.message.pk,
                    "seq": received.message.seq,
                    "duplicate": not received.created,
                    **self.earlier_mark(received.message),
                }
            )
        finally:
            # Stored is stored: a visitor who left before the ack reached them finds the answer
            # on their next resume, and their resend is only a duplicate.
            if received.bot_answers:
                reply_start(conversation_id=self.conversation_id, question_id=received.message.pk)

    async def refused(self, check: Callable[..., None], *, client_id: str | None = None) -> bool:
        """Run ``check(visitor=…)`` (``visitor_message_admit`` or ``visitor_writes_count``);
        when it refuses, send its error and return True.

        On a thread of its own, as ``connect``'s Redis calls: the rate limit's round trip
        neither waits behind this worker's database calls nor holds them up. The email the
        admission may read again gets that thread a connection, closed after the call.
        """
        try:
            await database_sync_to_async(check, thread_sensitive=False)(visitor=self.visitor)
        except VisitorMessageRefused as exc:
            await self.send_error(exc.code, exc.message, client_id=client_id)
            return True
        return False

    async def write(self, send: Callable[..., Written[Stored]]) -> Stored:
        """Run ``send(visitor=…, conversation_id=…)`` (``visitor_conversation_write``) on the
        database thread for this socket's conversation; when what the visitor sent opened
        their next conversation (this one was closed meanwhile), move there, and return what
        was stored."""
        written = await database_sync_to_async(send)(
            visitor=self.visitor, conversation_id=self.conversation_id
        )
        if written.opened is not None:
            await self.move_to(written.opened)
        return written.stored

    async def on_typing(self, frame: protocol.Typing) -> None:
        # Each frame is an event for every console following the conversation: a client
        # repeating itself faster than the widget is relayed once per TYPING_REPEAT; a change
        # (typing, stopped) goes at once.
        now = asyncio.get_running_loop().time()
        if frame.active == self.typing_active and now < self.typing_relayed_at + TYPING_REPEAT:
            return
        self.typing_active, self.typing_relayed_at = frame.active, now
        await events.typing_publish(
            conversation_id=self.conversation_id,
            author="visitor",
            name=self.visitor.name,
            active=frame.active,
        )

    async def resumes_over_limit(self) -> bool:
        """Count a resume of the visitor's; past ``RESUMES_PER_MINUTE``, say so and return True."""
        within_limit = await sync_to_async(rate_limit_hit, thread_sensitive=False)(
            scope="visitor-resumes",
            key=str(self.visitor.public_id),
            limit=RESUMES_PER_MINUTE,
            window_seconds=60,
        )
        if not within_limit:
            await self.send_error(
                "rate_limited", f"at most {RESUMES_PER_MINUTE} resumes a minute; wait a moment"
            )
        return not within_limit

    async def on_handoff_request(self, *, just_checked: bool = False) -> None:
        # It writes to the conversation as a message does, and counts with them.
        if await self.refused(visitor_writes_count):
            return
        if just_checked and self.status == Conversation.Status.WAITING:
            # The widget asks again on resuming a waiting conversation: resume just checked.
            await self.send_json({"type": "handoff.ack", "state": "unchanged"})
            return
        if self.status == Conversation.Status.CLOSED:
            await self.start_conversation()
        outcome = await database_sync_to_async(handoff_request)(
            conversation_id=self.conversation_id,
            reason=Ticket.Reason.CUSTOMER_REQUEST,
            detail=HandoffDetail("widget_button"),
            by="visitor",
        )
        await self.send_json({"type": "handoff.ack", "state": outcome.state})

    async def on_leave_message(self, frame: protocol.LeaveMessage) -> None:
        if await self.refused(visitor_writes_count, client_id=frame.client_id):
            return
        left = await self.write(
            partial(
                visitor_conversation_write,
                store=partial(
                    ticket_leave_message,
                    client_id=frame.client_id,
                    name=frame.name,
                    email=frame.email,
                    text=frame.text,
                ),
            )
        )
        await self.send_json(
            {
                "type": "leave_message.ack",
                "client_id": frame.client_id,
                "id": left.message.pk,
                "seq": left.message.seq,
                "ticket_id": left.ticket.pk,
                **self.earlier_mark(left.message),
            }
        )

    def earlier_mark(self, message: Message) -> dict[str, bool]:
        # A resend stored in the visitor's closed conversation: its seq is that one's, which
        # the widget must not count among the seqs of the conversation it shows.
        return {} if message.conversation_id == self.conversation_id else {"earlier": True}

    async def on_feedback(self, frame: protocol.Feedback) -> None:
        try:
            await database_sync_to_async(feedback_record)(
                visitor_id=self.visitor.pk,
                message_id=frame.message_id,
                value=frame.value,
                comment=frame.comment,
            )
        except RatingRejected as exc:
            await self.send_error(exc.code, exc.message)
            return
        await self.send_json(
            {"type": "feedback.ack", "message_id": frame.message_id, "value": frame.value}
        )

    async def on_csat(self, frame: protocol.Csat) -> None:
        try:
            response = await database_sync_to_async(csat_record)(
                visitor_id=self.visitor.pk, rating=frame.rating, comment=frame.comment
            )
        except RatingRejected as exc:
            await self.send_error(exc.code, exc.message)
            return
        await self.send_json(
            {"type": "csat.ack", "ticket_id": response.ticket_id, "rating": response.rating}
        )

    async def csat_offer(self) -> None:
        """Ask the visitor to rate the conversation's ticket if an agent just solved it."""
        ticket_id = await database_sync_to_async(csat_request_for)(
            conversation_id=self.conversation_id, now=timezone.now()
        )
        if ticket_id is not None:
            await self.send_json({"type": "csat.request", "ticket_id": ticket_id})

    async def send_error(
        self, code: str, message: str, *, client_id: str | None = None, field: str | None = None
    ) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if client_id:
            frame["client_id"] = client_id
        if field:
            frame["field"] = field
        await self.send_json(frame)

    # --- channel-layer events (apps/chat/events.py) -------------------------------------------

    async def chat_message(self, event: events.ChatMessageEvent) -> None:
        seq = event["message"]["seq"]
        if seq in self.delivered:
            return
        self.deliver(event["message"])
        await self.send_json({"type": "message.new", "message": event["message"]})

    async def chat_delta(self, event: events.ChatDeltaEvent) -> None:
        if self.status != Conversation.Status.BOT or event["seq"] not in self.streaming:
            return
        await self.send_json(
            {
                "type": "message.delta",
                "id": event["message_id"],
                "seq": event["seq"],
                "offset": event["offset"],
                "text": event["text"],
            }
        )

    async def chat_reset(self, event: events.ChatResetEvent) -> None:
        await self.send_json(
            {"type": "message.reset", "id": event["message_id"], "seq": event["seq"]}
        )

    async def chat_done(self, event: events.ChatDoneEvent) -> None:
        payload = event["message"]
        self.streaming.discard(payload["seq"])
        if payload["seq"] not in self.delivered:
            # This socket never saw the message start (it joined mid-stream): show it whole.
            self.delivered.add(payload["seq"])
            await self.send_json({"type": "message.new", "message": payload})
            return
        await self.send_json({"type": "message.done", "message": payload})

    async def chat_typing(self, event: events.ChatTypingEvent) -> None:
        if event["author"] == "visitor":
            return
        await self.send_json(
            {
                "type": "typing",
                "author": event["author"],
                "name": event["name"],
                "active": event["active"],
            }
        )

    async def chat_status(self, event: events.ChatStatusEvent) -> None:
        self.status = event["status"]
        await self.send_json(
            {"type": "conversation.status", "status": event["status"], "reason": event["reason"]}
        )
        # An agent solved the ticket: closing it, or handing the visitor back to the bot.
        if event["reason"] in ("solved", "hand_back"):
            await self.csat_offer()

    async def chat_handoff_unavailable(self, event: events.ChatHandoffUnavailableEvent) -> None:
        await self.send_json(
            {
                "type": "handoff.unavailable",
                "reason": event["reason"],
                "opens_at": event["opens_at"],
            }
        )

    async def chat_read(self, event: events.ChatReadEvent) -> None:
        """The visitor read up to there, in this tab or another: nothing to show."""

    async def chat_erased(self, event: events.ChatErasedEvent) -> None:
        """The conversation was deleted: with its visitor (erasure, the admin's delete of them
        or of their site), or alone (the admin's delete of a conversation)."""
        if await database_sync_to_async(visitor_exists)(visitor_id=self.visitor.pk):
            # Their token still names them: the widget reconnects with it and goes on in
            # their latest conversation, or a new one.
            await self.close(code=CLOSE_CONVERSATION_DELETED, reason="the conversation was deleted")
            return
        await self.visitor_gone()

    async def chat_continued(self, event: events.ChatContinuedEvent) -> None:
        """Another of the visitor's sockets began their next conversation: this one follows."""
        if event["conversation_id"] != self.conversation_id:
            return  # this socket began it, and is there already
        conversation = await database_sync_to_async(conversation_get)(
            conversation_id=event["next_conversation_id"]
        )
        await self.move_to(conversation)


def _conversation_frame(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "last_seq": conversation.last_seq,
    }


def _client_id_of(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("client_id"), str):
        return data["client_id"][:64]
    return None
