"""Races: two agents claiming at once, and the bot answering while an agent takes over."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from channels.db import database_sync_to_async

from apps.bot.services import replies_wait
from apps.chat import events as chat_events
from apps.chat.models import Message
from apps.handoff.models import Ticket
from apps.handoff.services import TicketConflict, handoff_request, ticket_claim
from apps.handoff.services.presence import agent_session_open
from tests.handoff import answerers
from tests.handoff.sockets import (
    console_socket,
    frame_of,
    frames_with,
    system_texts,
    visitor_socket,
)
from tests.threads import at_once

pytestmark = [pytest.mark.django_db(transaction=True)]

BOT_WORDS = [token.strip() for token in answerers.TOKENS]


@pytest.fixture
def gate(settings):
    settings.CSBOT_ANSWERER = "tests.handoff.answerers.gated"
    yield
    if answerers.gate is not None:
        answerers.gate.opened.set()
    answerers.gate = None


def bot_text_in(frames: list[dict]) -> list[str]:
    """Every piece of bot text a socket received."""
    texts = [f["text"] for f in frames if f["type"] == "message.delta"]
    texts += [
        f["message"]["text"]
        for f in frames
        if f["type"] in {"message.new", "message.done"} and f["message"]["author"] == "bot"
    ]
    return [text for text in texts if text]


async def drain(ws) -> list[dict]:
    frames = []
    while not await ws.receive_nothing(timeout=0.05):
        frames.append(await ws.receive_json_from())
    return frames


@pytest.fixture
def quick_heartbeat(settings):
    """Beat every 50 ms: the held bot's text is saved before the test takes over."""
    settings.CSBOT_REPLY_LEASE_SECONDS = 0.5


async def saved_by_heartbeat(text: str) -> None:
    """Wait until the streaming answer's heartbeat has stored ``text``."""
    async with asyncio.timeout(5):
        while True:
            if await Message.objects.filter(author_kind="bot", text=text).aexists():
                return
            await asyncio.sleep(0.01)


async def asked_while_the_bot_is_held(agent, visitor, *, release_after: int):
    """The visitor asks; the bot's answer stops after ``release_after`` tokens until the gate
    opens. Return the agent's console and the visitor's socket."""
    answerers.gate = answerers.Gate(release_after=release_after)
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to(
        {"type": "message.send", "client_id": "c-00000001", "text": "Where is my refund?"}
    )
    await asyncio.wait_for(answerers.gate.reached.wait(), 5)
    return console, widget


async def take_over(widget, console) -> int:
    """The visitor asks for a human and the agent claims; return the ticket's id."""
    await widget.send_json_to({"type": "handoff.request"})
    ticket = (await frame_of(console, "ticket"))["ticket"]
    await console.send_json_to({"type": "ticket.claim", "ticket_id": ticket["id"]})
    await frame_of(console, "result")
    return ticket["id"]


async def take_over_while_the_bot_waits(widget, console) -> None:
    """The visitor asks for a human and the agent claims; then the held bot may go on."""
    await take_over(widget, console)
    answerers.gate.opened.set()
    await replies_wait()


async def test_two_agents_claiming_at_once_one_wins_and_the_other_is_told(
    english, visitor, agent, teammate
):
    mei, _ = await console_socket(agent)
    li, _ = await console_socket(teammate)
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    ticket = (await frame_of(mei, "ticket"))["ticket"]
    await frame_of(li, "ticket")

    claim = {"type": "ticket.claim", "ticket_id": ticket["id"]}
    await asyncio.gather(mei.send_json_to(claim), li.send_json_to(claim))
    answers = await asyncio.gather(
        frame_of(mei, lambda f: f["type"] in {"result", "error"}),
        frame_of(li, lambda f: f["type"] in {"result", "error"}),
    )
    kinds = sorted(answer["type"] for answer in answers)
    assert kinds == ["error", "result"]
    loser = next(answer for answer in answers if answer["type"] == "error")
    stored = await Ticket.objects.select_related("assignee").aget(pk=ticket["id"])
    winner_name = stored.assignee.first_name
    assert loser["code"] == "taken"
    assert loser["message"] == f"{winner_name} already took this ticket"
    assert loser["holder"] == winner_name  # the console words it in the agent's language
    assert loser["ticket_id"] == ticket["id"]
    # The visitor is told of exactly one agent joining.
    joined = [text for text in system_texts(await drain(widget)) if "joined" in text]
    assert joined == [f"{winner_name} from Support joined the conversation."]
    for ws in (mei, li, widget):
        await ws.disconnect()


def test_concurrent_claims_from_two_threads_give_the_ticket_to_exactly_one(
    site, visitor, agent, teammate
):
    from apps.chat.services import conversation_open

    agent_session_open(user=agent, channel_name="test.mei")
    conversation = conversation_open(visitor=visitor)
    ticket_id = handoff_request(
        conversation_id=conversation.pk, reason="customer_request"
    ).ticket_id

    def claim(user) -> tuple[str, str]:
        try:
            ticket_claim(ticket_id=ticket_id, agent=user)
        except TicketConflict as exc:
            return user.username, exc.code
        return user.username, "won"

    outcomes = dict(at_once([partial(claim, agent), partial(claim, teammate)]))
    assert sorted(outcomes.values()) == ["taken", "won"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert Ticket.objects.get(pk=ticket_id).assignee.username == winner
    joined = Message.objects.filter(
        conversation=conversation, author_kind="system", text__contains="加入"
    )
    assert joined.count() == 1


async def test_the_bot_says_nothing_once_the_conversation_is_handed_over_mid_answer(
    site, visitor, agent, gate
):
    """The bot is generating when the visitor asks for a human and an agent claims."""
    console, widget = await asked_while_the_bot_is_held(agent, visitor, release_after=0)

    await take_over_while_the_bot_waits(widget, console)
    frames = await drain(widget)
    assert bot_text_in(frames) == []
    assert not await Message.objects.filter(author_kind="bot").aexists()
    console_frames = await drain(console)
    assert bot_text_in(console_frames) == []
    await widget.disconnect()
    await console.disconnect()


async def test_a_takeover_mid_stream_cuts_the_bot_off_after_what_was_already_shown(
    site, visitor, agent, gate, quick_heartbeat
):
    """The interrupted answer keeps what its last heartbeat saved while the bot held it.

    Ownership is checked once a heartbeat, not before every delta: the visitor's socket drops
    the deltas that follow the takeover, and the stored text is the last one saved while the
    bot held the conversation, never text generated after.
    """
    console, widget = await asked_while_the_bot_is_held(agent, visitor, release_after=2)
    before = await frames_with(widget, "message.delta")
    # The two tokens the gate let through, in one delta or two.
    while "".join(bot_text_in(before)) != "The bot ":
        before.append(await widget.receive_json_from(timeout=5))
    await saved_by_heartbeat("The bot ")

    await take_over_while_the_bot_waits(widget, console)
    after = await drain(widget)
    assert [f for f in after if f["type"] == "message.delta"] == []
    done = next(f for f in after if f["type"] == "message.done")
    assert (done["message"]["text"], done["message"]["state"]) == ("The bot ", "interrupted")
    stored = await Message.objects.aget(author_kind="bot")
    assert (stored.text, stored.state) == ("The bot ", "interrupted")
    await widget.disconnect()
    await console.disconnect()


async def test_an_answer_cut_off_by_a_takeover_stays_cut_off_when_handed_back_at_once(
    site, visitor, agent, gate
):
    """Bot, agent and bot again within one heartbeat (a second by default): the answer begun
    before the takeover neither goes on streaming nor is stored whole on the bot's return."""
    console, widget = await asked_while_the_bot_is_held(agent, visitor, release_after=2)
    ticket_id = await take_over(widget, console)
    await console.send_json_to({"type": "ticket.hand_back", "ticket_id": ticket_id})
    await frame_of(console, "result")
    await frame_of(widget, lambda f: f.get("status") == "bot")
    answerers.gate.opened.set()
    await replies_wait()

    after = await drain(widget)
    assert [f for f in after if f["type"] == "message.delta"] == []
    assert [f for f in after if f["type"] == "message.done"] == []
    stored = await Message.objects.aget(author_kind="bot")
    assert stored.state == "interrupted"
    assert stored.text in {"", "The bot "}
    await widget.disconnect()
    await console.disconnect()


async def test_a_bot_delta_published_after_the_takeover_never_reaches_the_visitor(
    site, visitor, agent
):
    """A bot on another worker may have checked just before the takeover committed."""
    console, _ = await console_socket(agent)
    widget, ready = await visitor_socket(visitor)
    conversation_id = ready["conversation"]["id"]
    await widget.send_json_to({"type": "handoff.request"})
    await frames_with(widget, "handoff.ack", "conversation.status")

    await chat_events.delta_publish(
        conversation_id=conversation_id, message_id=999, seq=99, offset=0, text="late bot text"
    )
    assert await widget.receive_nothing(timeout=0.05)
    await widget.disconnect()
    await console.disconnect()


async def test_the_pipeline_handing_over_during_its_own_answer_drops_that_answer(
    site, visitor, agent, gate, quick_heartbeat
):
    """Abstention decided mid-answer: the handoff wins over the text still being generated."""
    answerers.gate = answerers.Gate(release_after=1)
    await database_sync_to_async(agent_session_open)(user=agent, channel_name="test.mei")
    widget, ready = await visitor_socket(visitor)
    await widget.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "?"})
    await asyncio.wait_for(answerers.gate.reached.wait(), 5)
    await saved_by_heartbeat("The ")
    outcome = await database_sync_to_async(handoff_request)(
        conversation_id=ready["conversation"]["id"], reason="missing_knowledge"
    )
    assert outcome.state == "waiting"
    answerers.gate.opened.set()
    await replies_wait()
    stored = await Message.objects.aget(author_kind="bot")
    assert (stored.text, stored.state) == ("The ", "interrupted")
    await widget.disconnect()
