"""The agent console's websocket (``/ws/console/``): thin, validates frames, calls services.

Signed in with the Django session (AuthMiddlewareStack in csbot/asgi.py). The socket joins the
groups of the agent's teams (tickets, notes), of their sites (presence), of the
conversations of tickets they open or hold (messages, typing, status), and of the ticket on
screen (who else is viewing it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from apps.chat import events as chat_events
from apps.chat.layerwatch import socket_opened
from apps.chat.protocol import FrameError
from apps.chat.services import ConversationStatusChanged
from apps.core.consumers import JsonConsumer
from apps.core.lib.jsontext import json_parse
from apps.core.ratelimit import rate_limit_hit
from apps.handoff import events, protocol, services, viewers
from apps.handoff.assist import assist_question, assist_suggest
from apps.handoff.selectors import (
    agent_site_ids,
    agent_team_ids,
    agents_of_sites,
    canned_replies_for,
    display_name,
    team_member_ids,
    teams_of_sites,
    ticket_detail,
    ticket_get_for_agent,
    tickets_for_agent,
    tickets_search,
    user_is_agent,
)
from apps.handoff.services import presence
from apps.handoff.services.faq import faq_draft_promote
from apps.handoff.services.stranded import handoffs_release_later

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_AGENT = 4403
ASSIST_TIMEOUT_SECONDS = 60
# Each search reads every transcript of the agent's teams that has no earlier match: enough for
# typing and paging through results, not for a script.
SEARCHES_PER_MINUTE = 30

Handler = Callable[[protocol.Frame], Awaitable[None]]


def _db(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    return database_sync_to_async(function)


def _cache(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    # The shared cache is thread-safe and needs no database connection: off the database thread.
    return sync_to_async(function, thread_sensitive=False)


async def _presence(function: Callable[..., Any], **kwargs: Any) -> Any | None:
    """Read or refresh who views which ticket; None when the cache is unavailable.

    Presence, not data: with the cache's Redis down a console carries on without it, rather
    than closing on every ping and every colleague's move.
    """
    try:
        return await _cache(function)(**kwargs)
    except (RedisError, OSError):
        logger.warning("console presence skipped (%s): the cache is unavailable", function.__name__)
        return None


class ConsoleConsumer(JsonConsumer):
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.registered = False
        self.team_ids: set[int] = set()
        self.site_ids: set[int] = set()
        # Ticket id → conversation id, for the tickets whose conversation this socket follows.
        self.following: dict[int, int] = {}
        # The last seq this console reported on screen, by ticket (``ticket.seen``).
        self.seen: dict[int, int] = {}
        # The ticket on screen, its team's agents (who may view it too), whether this console
        # is typing a reply in it, and who else views it (colleagues, this agent's other
        # consoles) as last sent to the console.
        self.viewing: int | None = None
        self.viewing_team: list[int] = []
        self.viewing_typing = False
        self.viewers_sent: list[viewers.Viewer] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        await self.accept()
        socket_opened(self)
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED, reason="sign in first")
            return
        if not await _db(user_is_agent)(user=self.user):
            await self.close(code=CLOSE_NOT_AGENT, reason="not in the Agents group")
            return
        self.team_ids = set(await _db(agent_team_ids)(user=self.user))
        self.site_ids = set(await _db(agent_site_ids)(user=self.user))
        # Groups first, snapshot second: nothing published in between is missed.
        for team_id in self.team_ids:
            await self.channel_layer.group_add(events.team_group(team_id), self.channel_name)
        for site_id in self.site_ids:
            await self.channel_layer.group_add(events.site_group(site_id), self.channel_name)
        profile = await _db(presence.agent_session_open)(
            user=self.user, channel_name=self.channel_name
        )
        self.registered = True
        tickets = await _db(tickets_for_agent)(user=self.user)
        for ticket in tickets:
            if ticket["assignee"] and ticket["assignee"]["id"] == self.user.pk:
                await self.follow(ticket["id"], ticket["conversation_id"])
        site_ids = sorted(self.site_ids)
        await self.send_json(
            {
                "type": "ready",
                "agent": {
                    "id": self.user.pk,
                    "name": display_name(self.user),
                    "availability": profile.availability,
                    "capacity": profile.capacity,
                    "team_ids": sorted(self.team_ids),
                    # May act on a colleague's ticket (services.common.assignee_check).
                    "superuser": self.user.is_superuser,
                },
                "tickets": tickets,
                "teams": await _db(teams_of_sites)(site_ids=site_ids),
                "agents": await _db(agents_of_sites)(site_ids=site_ids, at=timezone.now()),
                "canned": await _db(canned_replies_for)(site_ids=site_ids),
            }
        )

    async def disconnect(self, code: int) -> None:
        for task in self.tasks:
            task.cancel()
        user_id = self.user.pk if self.user is not None else None

        async def attempt(what: str, step: Awaitable[object]) -> None:
            # Every step runs whatever the ones before did (Redis or the database down): one
            # skipped would leave the agent "online", or this channel in a group for a day.
            try:
                await step
            except Exception:
                logger.exception("console socket of user %s closing: %s failed", user_id, what)

        if self.registered:
            # First: an agent left "online" would be handed conversations nobody answers.
            self.registered = False
            await attempt(
                "closing the agent's session",
                _db(presence.agent_session_close)(user=self.user, channel_name=self.channel_name),
            )
            await attempt(
                "marking the sites left", handoffs_release_later(site_ids=list(self.site_ids))
            )
        await attempt("leaving the ticket on screen", self.unview())
        groups = [
            *(events.team_group(team_id) for team_id in self.team_ids),
            *(events.site_group(site_id) for site_id in self.site_ids),
            *(chat_events.conversation_group(c_id) for c_id in set(self.following.values())),
        ]
        for group in groups:
            await attempt(
                f"leaving {group}", self.channel_layer.group_discard(group, self.channel_name)
            )

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"))

    async def follow(self, ticket_id: int, conversation_id: int) -> None:
        if conversation_id not in self.following.values():
            await self.channel_layer.group_add(
                chat_events.conversation_group(conversation_id), self.channel_name
            )
        self.following[ticket_id] = conversation_id

    async def unfollow(self, ticket_id: int) -> None:
        conversation_id = self.following.pop(ticket_id, None)
        if conversation_id is not None and conversation_id not in self.following.values():
            await self.channel_layer.group_discard(
                chat_events.conversation_group(conversation_id), self.channel_name
            )

    async def view(self, ticket_id: int, team_id: int | None) -> None:
        """The ticket is on screen: mark it, and tell this console who else has it open."""
        if self.viewing != ticket_id:
            await self.unview()
            self.viewing = ticket_id
            self.viewing_team = (
                [] if team_id is None else await _db(team_member_ids)(team_id=team_id)
            )
            await self.channel_layer.group_add(events.ticket_group(ticket_id), self.channel_name)
            await self.viewing_mark()
            await events.viewers_changed(ticket_id=ticket_id)
        await self.send_viewers(always=True)

    async def unview(self) -> None:
        ticket_id = self.viewing
        if ticket_id is None:
            return
        self.viewing, self.viewing_typing, self.viewers_sent = None, False, None
        await self.channel_layer.group_discard(events.ticket_group(ticket_id), self.channel_name)
        await _cache(viewers.viewing_unmark)(
            ticket_id=ticket_id, user_id=self.user.pk, channel_name=self.channel_name
        )
        await events.viewers_changed(ticket_id=ticket_id)

    async def viewing_mark(self) -> None:
        await _presence(
            viewers.viewing_mark,
            ticket_id=self.viewing,
            user_id=self.user.pk,
            name=display_name(self.user),
            channel_name=self.channel_name,
            typing=self.viewing_typing,
        )

    async def send_viewers(self, *, always: bool = False) -> None:
        """Send who else views the open ticket, if that changed since last sent."""
        ticket_id = self.viewing
        if ticket_id is None:
            return
        found = await _presence(
            viewers.ticket_viewers,
            ticket_id=ticket_id,
            user_ids=self.viewing_team,
            channel_name=self.channel_name,
        )
        if found is None or ticket_id != self.viewing:
            return
        if found == self.viewers_sent and not always:
            return
        self.viewers_sent = found
        await self.send_json({"type": "ticket.viewers", "ticket_id": ticket_id, "viewers": found})

    # --- frames from the console -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.registered:
            return
        if text_data is None or len(text_data.encode("utf-8")) > 4 * settings.CSBOT_MAX_FRAME_BYTES:
            await self.send_error("bad_frame", "frames are JSON text of at most 32 KiB")
            return
        try:
            frame = protocol.frame_parse(json_parse(text_data))
        except ValueError as exc:
            await self.send_error("bad_json", f"the frame is not valid JSON: {exc}")
            return
        except protocol.FrameFieldError as exc:
            refused = protocol.Frame(type=exc.frame_type, data={}, ref=exc.ref)
            await self.send_error(exc.code, exc.message, frame=refused)
            return
        except FrameError as exc:
            await self.send_error(exc.code, exc.message)
            return
        handler: Handler = getattr(self, "on_" + frame.type.replace(".", "_"))
        try:
            await handler(frame)
        except services.TicketNotFound:
            await self.send_error("not_found", "no such ticket in your teams", frame=frame)
        except services.TicketConflict as exc:
            await self.send_error(exc.code, exc.message, frame=frame, **exc.details)
        except ConversationStatusChanged:
            await self.send_error(
                "not_owner", "the conversation is not with you any more", frame=frame
            )
        except DatabaseError:
            logger.exception("database unavailable while handling %s", frame.type)
            await self.send_error("unavailable", "the server could not do this now", frame=frame)

    async def send_error(
        self, code: str, message: str, *, frame: protocol.Frame | None = None, **details: str
    ) -> None:
        reply: dict[str, Any] = {"type": "error", "code": code, "message": message, **details}
        if frame is not None:
            reply.update(ref=frame.ref, action=frame.type, ticket_id=frame.data.get("ticket_id"))
        await self.send_json(reply)

    async def send_result(self, frame: protocol.Frame, **extra: Any) -> None:
        await self.send_json(
            {
                "type": "result",
                "ref": frame.ref,
                "action": frame.type,
                "ticket_id": frame.data.get("ticket_id"),
                **extra,
            }
        )

    async def on_ping(self, frame: protocol.Frame) -> None:
        await _db(presence.agent_session_seen)(channel_name=self.channel_name)
        if self.viewing is not None:
            # Keeps this console's mark alive; a colleague's that lapsed (a dead worker) goes.
            await self.viewing_mark()
            await self.send_viewers()
        await self.send_json({"type": "pong"})

    async def on_presence_set(self, frame: protocol.Frame) -> None:
        try:
            await _db(presence.agent_availability_set)(
                user=self.user, availability=frame.data["availability"]
            )
        except ValueError as exc:
            await self.send_error("bad_frame", str(exc), frame=frame)
            return
        if frame.data["availability"] != "online":
            await handoffs_release_later(site_ids=list(self.site_ids))
        await self.send_result(frame, availability=frame.data["availability"])

    async def on_ticket_open(self, frame: protocol.Frame) -> None:
        ticket = await _db(ticket_get_for_agent)(user=self.user, ticket_id=frame.data["ticket_id"])
        if ticket is None:
            raise services.TicketNotFound(frame.data["ticket_id"])
        await self.follow(ticket.pk, ticket.conversation_id)
        detail = await _db(ticket_detail)(ticket=ticket)
        if detail is None:
            await self.unfollow(ticket.pk)
            raise services.TicketNotFound(ticket.pk)
        await self.send_json({"type": "ticket.detail", "ref": frame.ref, **detail})
        await self.view(ticket.pk, ticket.team_id)

    async def on_ticket_leave(self, frame: protocol.Frame) -> None:
        if frame.data["ticket_id"] == self.viewing:
            await self.unview()

    async def on_ticket_seen(self, frame: protocol.Frame) -> None:
        ticket_id, seq = frame.data["ticket_id"], frame.data["seq"]
        # Only a ticket this console opened, and only forward: one write per message at most.
        if ticket_id not in self.following or seq <= self.seen.get(ticket_id, 0):
            return
        self.seen[ticket_id] = seq
        await _db(services.ticket_seen)(ticket_id=ticket_id, agent=self.user, seq=seq)

    async def on_tickets_search(self, frame: protocol.Frame) -> None:
        within_limit = await _cache(rate_limit_hit)(
            scope="console-search",
            key=str(self.user.pk),
            limit=SEARCHES_PER_MINUTE,
            window_seconds=60,
        )
        if not within_limit:
            await self.send_error(
                "rate_limited",
                f"at most {SEARCHES_PER_MINUTE} searches a minute; wait a moment",
                frame=frame,
            )
            return
        page = await _db(tickets_search)(
            user=self.user, query=frame.data["query"].strip(), before_id=frame.data.get("before_id")
        )
        await self.send_json(
            {"type": "tickets.found", "ref": frame.ref, "query": frame.data["query"], **page}
        )

    async def on_ticket_claim(self, frame: protocol.Frame) -> None:
        ticket = await _db(services.ticket_claim)(
            ticket_id=frame.data["ticket_id"], agent=self.user
        )
        await self.follow(ticket.pk, ticket.conversation_id)
        await self.send_result(frame)

    async def on_message_send(self, frame: protocol.Frame) -> None:
        message = await _db(services.ticket_reply)(
            ticket_id=frame.data["ticket_id"], agent=self.user, text=frame.data["text"]
        )
        await self.send_result(frame, message_id=message.pk, seq=message.seq)

    async def on_note_add(self, frame: protocol.Frame) -> None:
        note = await _db(services.ticket_note_add)(
            ticket_id=frame.data["ticket_id"], agent=self.user, text=frame.data["text"]
        )
        await self.send_result(frame, note_id=note.pk)

    async def on_typing(self, frame: protocol.Frame) -> None:
        conversation_id = self.following.get(frame.data["ticket_id"])
        if conversation_id is None:
            raise services.TicketNotFound(frame.data["ticket_id"])
        await chat_events.typing_publish(
            conversation_id=conversation_id,
            author="agent",
            name=display_name(self.user),
            active=frame.data["active"],
        )
        if frame.data["ticket_id"] == self.viewing and frame.data["active"] != self.viewing_typing:
            self.viewing_typing = frame.data["active"]
            await self.viewing_mark()
            await events.viewers_changed(ticket_id=frame.data["ticket_id"])

    async def on_ticket_hand_back(self, frame: protocol.Frame) -> None:
        await _db(services.ticket_hand_back)(ticket_id=frame.data["ticket_id"], agent=self.user)
        await self.send_result(frame)

    async def on_ticket_solve(self, frame: protocol.Frame) -> None:
        await _db(services.ticket_solve)(ticket_id=frame.data["ticket_id"], agent=self.user)
        await self.send_result(frame)

    async def on_ticket_close(self, frame: protocol.Frame) -> None:
        await _db(services.ticket_close)(ticket_id=frame.data["ticket_id"], agent=self.user)
        await self.send_result(frame)

    async def on_ticket_transfer(self, frame: protocol.Frame) -> None:
        await _db(services.ticket_transfer)(
            ticket_id=frame.data["ticket_id"],
            agent=self.user,
            to_agent_id=frame.data.get("agent_id"),
            to_team_id=frame.data.get("team_id"),
        )
        await self.send_result(frame)

    async def on_ticket_update(self, frame: protocol.Frame) -> None:
        await _db(services.ticket_update)(
            ticket_id=frame.data["ticket_id"],
            agent=self.user,
            priority=frame.data.get("priority"),
            tags=frame.data.get("tags"),
            pending=frame.data.get("pending"),
        )
        await self.send_result(frame)

    async def on_faq_promote(self, frame: protocol.Frame) -> None:
        draft = await _db(faq_draft_promote)(
            ticket_id=frame.data["ticket_id"],
            agent=self.user,
            question=frame.data["question"],
            answer=frame.data["answer"],
        )
        await self.send_result(frame, faq_id=draft.faq_id, admin_url=draft.admin_url)

    async def on_assist_request(self, frame: protocol.Frame) -> None:
        ticket = await _db(ticket_get_for_agent)(user=self.user, ticket_id=frame.data["ticket_id"])
        if ticket is None:
            raise services.TicketNotFound(frame.data["ticket_id"])
        question = await _db(assist_question)(ticket=ticket)
        if question is None:
            await self.send_error("no_question", "the visitor has not asked anything", frame=frame)
            return
        # The answer may take seconds: the socket keeps serving frames meanwhile.
        task = asyncio.create_task(self.assist(frame, ticket.conversation_id, question.pk))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def assist(self, frame: protocol.Frame, conversation_id: int, question_id: int) -> None:
        try:
            async with asyncio.timeout(ASSIST_TIMEOUT_SECONDS):
                suggestion = await assist_suggest(
                    conversation_id=conversation_id, question_id=question_id
                )
        except Exception:
            logger.exception("agent assist failed for conversation %s", conversation_id)
            await self.send_error("assist_failed", "no suggestion could be made", frame=frame)
            return
        if not suggestion.grounded:
            await self.send_error(
                "no_knowledge", "the knowledge base has nothing for this question", frame=frame
            )
            return
        await self.send_json(
            {
                "type": "assist.result",
                "ref": frame.ref,
                "ticket_id": frame.data["ticket_id"],
                "question_id": question_id,
                "text": suggestion.text,
                "citations": suggestion.citations,
                "complete": suggestion.complete,
            }
        )

    # --- channel-layer events ----------------------------------------------------------------

    async def handoff_ticket(self, event: events.TicketEvent) -> None:
        ticket = event["ticket"]
        team = ticket["team"]
        if team is None or team["id"] not in self.team_ids:
            await self.unfollow(ticket["id"])
            if ticket["id"] == self.viewing:
                await self.unview()
            await self.send_json({"type": "ticket.removed", "ticket_id": ticket["id"]})
            return
        mine = ticket["assignee"] is not None and ticket["assignee"]["id"] == self.user.pk
        if mine and ticket["status"] in {"open", "pending"}:
            await self.follow(ticket["id"], ticket["conversation_id"])
        await self.send_json({"type": "ticket", "ticket": ticket})

    async def handoff_ticket_removed(self, event: events.TicketRemovedEvent) -> None:
        await self.unfollow(event["ticket_id"])
        if event["ticket_id"] == self.viewing:
            await self.unview()
        await self.send_json({"type": "ticket.removed", "ticket_id": event["ticket_id"]})

    async def handoff_note(self, event: events.NoteEvent) -> None:
        await self.send_json({"type": "note.new", "note": event["note"]})

    async def handoff_presence(self, event: events.PresenceEvent) -> None:
        await self.send_json({"type": "presence", "agent": event["agent"]})

    async def handoff_viewers(self, event: events.ViewersEvent) -> None:
        if event["ticket_id"] == self.viewing:
            await self.send_viewers()

    async def chat_message(self, event: chat_events.ChatMessageEvent) -> None:
        await self.send_json(
            {
                "type": "message.new",
                "conversation_id": event["conversation_id"],
                "message": event["message"],
            }
        )

    async def chat_done(self, event: chat_events.ChatDoneEvent) -> None:
        await self.send_json(
            {
                "type": "message.done",
                "conversation_id": event["conversation_id"],
                "message": event["message"],
            }
        )

    async def chat_delta(self, event: chat_events.ChatDeltaEvent) -> None:
        await self.send_json(
            {
                "type": "message.delta",
                "conversation_id": event["conversation_id"],
                "id": event["message_id"],
                "offset": event["offset"],
                "text": event["text"],
            }
        )

    async def chat_reset(self, event: chat_events.ChatResetEvent) -> None:
        await self.send_json(
            {
                "type": "message.reset",
                "conversation_id": event["conversation_id"],
                "id": event["message_id"],
            }
        )

    async def chat_typing(self, event: chat_events.ChatTypingEvent) -> None:
        if event["author"] == "agent" and event["name"] == display_name(self.user):
            return
        await self.send_json(
            {
                "type": "typing",
                "conversation_id": event["conversation_id"],
                "author": event["author"],
                "name": event["name"],
                "active": event["active"],
            }
        )

    async def chat_status(self, event: chat_events.ChatStatusEvent) -> None:
        await self.send_json(
            {
                "type": "conversation.status",
                "conversation_id": event["conversation_id"],
                "status": event["status"],
                "reason": event["reason"],
            }
        )

    async def chat_handoff_unavailable(
        self, event: chat_events.ChatHandoffUnavailableEvent
    ) -> None:
        """The visitor is offered the leave-a-message form; the console has nothing to show."""

    async def chat_read(self, event: chat_events.ChatReadEvent) -> None:
        await self.send_json(
            {
                "type": "conversation.read",
                "conversation_id": event["conversation_id"],
                "seq": event["seq"],
            }
        )

    async def chat_erased(self, event: chat_events.ChatErasedEvent) -> None:
        """The visitor was erased; their tickets leave the console by their team's group."""

    async def chat_continued(self, event: chat_events.ChatContinuedEvent) -> None:
        """The visitor went on in a new conversation; it gets a ticket of its own if handed
        over, so the console has nothing to show."""
