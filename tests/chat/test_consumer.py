from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from uvicorn.protocols.utils import ClientDisconnected

from apps.bot.services import replies_wait
from apps.chat import protocol
from apps.chat.consumers import RESUMES_PER_MINUTE
from apps.chat.models import Conversation, Message, Visitor
from apps.chat.services import message_create
from csbot.asgi import application
from tests.chat.answerers import STREAMED_TOKENS
from tests.conftest import SITE_ORIGIN, token_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def communicator(site_key: str, origin: str = SITE_ORIGIN) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, f"/ws/chat/?site={site_key}", headers=[(b"origin", origin.encode())]
    )


async def connected(site, visitor) -> tuple[WebsocketCommunicator, dict]:
    ws = communicator(site.public_key)
    ok, _ = await ws.connect()
    assert ok
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
    ready = await ws.receive_json_from()
    assert ready["type"] == "ready"
    return ws, ready


async def frames_until(ws: WebsocketCommunicator, frame_type: str) -> list[dict]:
    frames = []
    while True:
        frame = await ws.receive_json_from(timeout=5)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


@pytest.fixture
def streaming_answerer(settings):
    settings.CSBOT_ANSWERER = "tests.chat.answerers.streaming"


@pytest.mark.parametrize("site_key", ["site_nope", "%00"])
async def test_unknown_site_is_closed_with_4404(site, site_key):
    ws = communicator(site_key)
    await ws.connect()
    assert await ws.receive_output() == {
        "type": "websocket.close",
        "code": 4404,
        "reason": "unknown site",
    }


async def test_origin_not_allowed_for_the_site_is_closed_with_4403(site):
    ws = communicator(site.public_key, origin="https://evil.example.org")
    await ws.connect()
    closed = await ws.receive_output()
    assert closed["type"] == "websocket.close"
    assert closed["code"] == 4403


async def test_wildcard_subdomain_origin_is_allowed(site, visitor):
    ws = communicator(site.public_key, origin="https://m.shop.example.com")
    ok, _ = await ws.connect()
    assert ok
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()


async def test_token_of_another_site_is_refused_with_4401(site, other_site, visitor):
    ws = communicator(other_site.public_key, origin="https://other.example.net")
    await ws.connect()
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
    assert (await ws.receive_json_from())["code"] == "unauthorized"
    assert (await ws.receive_output())["code"] == 4401


async def test_forged_token_is_refused(site, visitor):
    ws = communicator(site.public_key)
    await ws.connect()
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)[:-2] + "xx"})
    assert (await ws.receive_json_from())["code"] == "unauthorized"
    assert (await ws.receive_output())["code"] == 4401


async def test_frames_before_hello_are_refused_and_nothing_is_stored(site, visitor):
    ws = communicator(site.public_key)
    await ws.connect()
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "hi"})
    assert (await ws.receive_json_from())["code"] == "hello_required"
    assert await Message.objects.acount() == 0
    await ws.disconnect()


async def test_message_is_stored_before_the_ack_and_a_resend_stores_nothing(site, visitor):
    ws, _ = await connected(site, visitor)
    frame = {"type": "message.send", "client_id": "c-00000001", "text": "包裹什么时候到？"}
    await ws.send_json_to(frame)
    ack = (await frames_until(ws, "message.ack"))[-1]
    stored = await Message.objects.aget(pk=ack["id"])
    assert (stored.text, stored.seq, ack["duplicate"]) == ("包裹什么时候到？", ack["seq"], False)

    await ws.send_json_to(frame)
    again = (await frames_until(ws, "message.ack"))[-1]
    assert (again["id"], again["seq"], again["duplicate"]) == (ack["id"], ack["seq"], True)
    assert await Message.objects.filter(author_kind="visitor").acount() == 1
    await replies_wait()
    await ws.disconnect()


async def test_a_resend_after_the_next_conversation_began_is_acknowledged_as_earlier(site, visitor):
    # Tab A sends and loses the ack; the conversation is closed; tab B writes, beginning the
    # next one; tab A comes back into that one and sends its outbox again.
    tab_a, _ = await connected(site, visitor)
    frame = {"type": "message.send", "client_id": "c-tab-a-001", "text": "Where is my parcel?"}
    await tab_a.send_json_to(frame)
    ack = (await frames_until(tab_a, "message.ack"))[-1]
    await tab_a.disconnect()
    sent_in = (await Message.objects.aget(pk=ack["id"])).conversation_id
    await Conversation.objects.filter(pk=sent_in).aupdate(status="closed")
    tab_b, _ = await connected(site, visitor)
    await tab_b.send_json_to({**frame, "client_id": "c-tab-b-001", "text": "Hello?"})
    following = (await frames_until(tab_b, "message.ack"))[-1]
    await replies_wait()

    tab_a, ready = await connected(site, visitor)
    assert (
        ready["conversation"]["id"]
        == (await Message.objects.aget(pk=following["id"])).conversation_id
    )
    await tab_a.send_json_to(frame)
    again = (await frames_until(tab_a, "message.ack"))[-1]
    assert again == {**ack, "duplicate": True, "earlier": True}
    assert await Message.objects.filter(client_id="c-tab-a-001").acount() == 1
    await tab_a.disconnect()
    await tab_b.disconnect()


class _GoneAtTheAck(asyncio.Queue):
    """The server's side of a socket whose visitor left as the message was being stored: from
    the ack on, sending raises what uvicorn raises once the connection is gone."""

    gone = False

    async def put(self, event: dict) -> None:
        if event["type"] == "websocket.send" and '"message.ack"' in event.get("text", ""):
            self.gone = True
        if self.gone:
            raise ClientDisconnected()
        await super().put(event)


async def test_a_message_stored_as_the_visitor_leaves_is_answered_and_replayed(
    site, visitor, streaming_answerer
):
    ws = communicator(site.public_key)
    ws._output_queue = _GoneAtTheAck()  # asgiref gives the application this queue's put as send
    await ws.connect()
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
    assert (await ws.receive_json_from())["type"] == "ready"
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "q"})
    with pytest.raises(ClientDisconnected):
        await ws.wait()
    await replies_wait()

    ws, ready = await connected(site, visitor)
    assert ready["conversation"]["last_seq"] == 2
    await ws.send_json_to({"type": "resume", "last_seq": 0})
    frames = await frames_until(ws, "resumed")
    replayed = [(f["message"]["author"], f["message"]["text"]) for f in frames[:-1]]
    assert replayed == [("visitor", "q"), ("bot", "Parcels ship in 48 h [1].")]
    await ws.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "nope"}', "unknown_type"),
        ('{"type": "message.send", "client_id": "x", "text": "hi"}', "bad_frame"),
        ('{"type": "message.send", "client_id": "c-00000001", "text": "   "}', "empty_message"),
        # Invisible, though str.strip keeps them: zero-width space, BOM, word joiner.
        (
            '{"type": "message.send", "client_id": "c-00000001", "text": "\\u200b \\ufeff\\u2060"}',
            "empty_message",
        ),
        ('{"type": "message.send", "client_id": "c-00000001", "text": 5}', "bad_frame"),
        ('{"type": "resume", "last_seq": true}', "bad_frame"),
        ('{"type": "hello", "v": 99, "token": "t"}', "unsupported_version"),
        ("[" * 4000 + "]" * 4000, "bad_json"),
        ('{"type": "message.send", "client_id": "c-00000001", "text": "hi \\ud800"}', "bad_json"),
        ('{"type": "identify", "name": "\\udfff"}', "bad_json"),
        ('{"type": "message.send", "client_id": "c-00000001\\n", "text": "hi"}', "bad_frame"),
    ],
)
async def test_malformed_frames_get_an_error_and_keep_the_socket(site, visitor, raw, code):
    ws, _ = await connected(site, visitor)
    await ws.send_to(text_data=raw)
    assert (await ws.receive_json_from())["code"] == code
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    assert await Message.objects.acount() == 0
    await ws.disconnect()


async def test_the_longest_chinese_message_fits_in_a_frame(site, visitor):
    ws, _ = await connected(site, visitor)
    longest = "长" * protocol.MAX_MESSAGE_CHARS
    # As browsers send it: JSON.stringify leaves Chinese unescaped (3 bytes, not 6).
    frame = {"type": "message.send", "client_id": "c-00000001", "text": longest}
    await ws.send_to(text_data=json.dumps(frame, ensure_ascii=False))
    ack = (await frames_until(ws, "message.ack"))[-1]
    assert (await Message.objects.aget(pk=ack["id"])).text == longest
    frame = {"type": "message.send", "client_id": "c-00000002", "text": longest + "长"}
    await ws.send_to(text_data=json.dumps(frame, ensure_ascii=False))
    assert (await _next_error(ws))["code"] == "message_too_long"
    await replies_wait()
    await ws.disconnect()


async def test_oversized_frame_is_refused_and_nothing_is_stored(site, visitor):
    ws, _ = await connected(site, visitor)
    huge = json.dumps({"type": "message.send", "client_id": "c-00000001", "text": "长" * 4000})
    await ws.send_to(text_data=huge)
    error = await ws.receive_json_from()
    assert error["code"] == "frame_too_large"
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    assert await Message.objects.acount() == 0
    await ws.disconnect()


async def test_messages_over_the_rate_limit_are_refused_and_not_stored(site, visitor, settings):
    settings.CSBOT_MESSAGES_PER_MINUTE = 2
    ws, _ = await connected(site, visitor)
    codes = []
    for n in range(3):
        await ws.send_json_to(
            {"type": "message.send", "client_id": f"c-0000000{n}", "text": f"q{n}"}
        )
        frames = await frames_until(ws, "message.ack") if n < 2 else [await _next_error(ws)]
        codes.append(frames[-1].get("code", "ack"))
    assert codes == ["ack", "ack", "rate_limited"]
    assert await Message.objects.filter(author_kind="visitor").acount() == 2
    await replies_wait()
    await ws.disconnect()


async def test_resumes_over_the_rate_limit_are_refused(site, visitor):
    ws, _ = await connected(site, visitor)
    for _ in range(RESUMES_PER_MINUTE + 1):
        await ws.send_json_to({"type": "resume", "last_seq": 0})
    answers = [await ws.receive_json_from(timeout=5) for _ in range(RESUMES_PER_MINUTE + 1)]
    assert [a["type"] for a in answers] == ["resumed"] * RESUMES_PER_MINUTE + ["error"]
    assert answers[-1]["code"] == "rate_limited"
    assert answers[-1]["message"] == "at most 30 resumes a minute; wait a moment"
    # Closed to be reconnected later, not left open waiting for a resumed that never comes.
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 1013}


async def _next_error(ws: WebsocketCommunicator) -> dict:
    while True:
        frame = await ws.receive_json_from(timeout=5)
        if frame["type"] == "error":
            return frame


async def test_bot_reply_streams_deltas_then_done(site, visitor, streaming_answerer):
    ws, _ = await connected(site, visitor)
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "shipping?"})
    frames = await frames_until(ws, "message.done")
    bot_new = next(
        f for f in frames if f["type"] == "message.new" and f["message"]["author"] == "bot"
    )
    assert bot_new["message"]["state"] == "streaming"
    deltas = [f for f in frames if f["type"] == "message.delta"]
    texts = [d["text"] for d in deltas]
    assert "".join(texts) == "Parcels ship in 48 h [1]."
    assert [d["offset"] for d in deltas] == [len("".join(texts[:n])) for n in range(len(texts))]
    assert {d["id"] for d in deltas} == {bot_new["message"]["id"]}
    done = frames[-1]["message"]
    assert done["text"] == "Parcels ship in 48 h [1]."
    assert done["state"] == "complete"
    assert done["citations"][0]["url"] == "https://shop.example.com/s"
    await ws.disconnect()


async def test_tokens_a_model_streams_apart_reach_the_socket_one_delta_each(
    site, visitor, settings
):
    settings.CSBOT_ANSWERER = "tests.chat.answerers.paced"
    ws, _ = await connected(site, visitor)
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "q"})
    frames = await frames_until(ws, "message.done")
    deltas = [f for f in frames if f["type"] == "message.delta"]
    assert [d["text"] for d in deltas] == STREAMED_TOKENS
    assert [d["offset"] for d in deltas] == [0, 3, 8, 13, 16, 20]
    await ws.disconnect()


async def test_tokens_faster_than_the_delta_interval_go_out_together_after_the_first(
    site, visitor, settings
):
    settings.CSBOT_ANSWERER = "tests.chat.answerers.hurried"
    settings.CSBOT_DELTA_INTERVAL_MS = 200
    ws, _ = await connected(site, visitor)
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "q"})
    frames = await frames_until(ws, "message.done")
    deltas = [(f["offset"], f["text"]) for f in frames if f["type"] == "message.delta"]
    # Six tokens over 30 ms: the first at once, the other five within the next interval.
    assert deltas == [(0, STREAMED_TOKENS[0]), (3, "".join(STREAMED_TOKENS[1:]))]
    assert frames[-1]["message"]["text"] == "".join(STREAMED_TOKENS)
    await ws.disconnect()


async def test_tokens_that_arrive_while_a_delta_is_being_published_go_out_as_one(
    site, visitor, streaming_answerer
):
    # The scripted answer yields its tokens back to back: all of them arrive before the first
    # publish has run. A worker behind on its streams publishes what is waiting in one delta.
    ws, _ = await connected(site, visitor)
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "q"})
    frames = await frames_until(ws, "message.done")
    deltas = [(f["offset"], f["text"]) for f in frames if f["type"] == "message.delta"]
    assert deltas == [(0, "Parcels ship in 48 h [1].")]
    await ws.disconnect()


async def test_regenerated_answer_sends_a_reset_and_never_splices(site, visitor, settings):
    settings.CSBOT_ANSWERER = "tests.chat.answerers.regenerating"
    ws, _ = await connected(site, visitor)
    await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "q"})
    frames = await frames_until(ws, "message.done")
    kinds = [
        f["type"] for f in frames if f["type"].startswith("message.") and f["type"] != "message.ack"
    ]
    assert kinds[-4:] == ["message.delta", "message.reset", "message.delta", "message.done"]
    after_reset = frames[[f["type"] for f in frames].index("message.reset") + 1]
    assert (after_reset["offset"], after_reset["text"]) == (0, "second attempt")
    assert frames[-1]["message"]["text"] == "second attempt"
    await ws.disconnect()


async def test_resume_replays_exactly_the_missed_messages_in_order(
    site, visitor, streaming_answerer
):
    ws, _ = await connected(site, visitor)
    for n in range(2):
        await ws.send_json_to(
            {"type": "message.send", "client_id": f"c-0000000{n}", "text": f"q{n}"}
        )
        await frames_until(ws, "message.done")
    await ws.disconnect()

    ws, ready = await connected(site, visitor)
    assert ready["conversation"]["last_seq"] == 4
    await ws.send_json_to({"type": "resume", "last_seq": 1})
    frames = await frames_until(ws, "resumed")
    replayed = [f["message"]["seq"] for f in frames if f["type"] == "message.new"]
    assert replayed == [2, 3, 4]
    assert frames[-1] == {"type": "resumed", "status": "bot"}
    assert await ws.receive_nothing(timeout=0.05)
    await ws.disconnect()


async def test_resume_does_not_announce_again_what_the_socket_heard_live(site, visitor):
    listening, _ = await connected(site, visitor)
    writing, _ = await connected(site, visitor)  # another tab of the same visitor
    await writing.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "hi"})
    heard = await frames_until(listening, "message.new")
    await listening.send_json_to({"type": "resume", "last_seq": 0})
    frames = heard + await frames_until(listening, "resumed")
    announced = [f["message"]["seq"] for f in frames if f["type"] == "message.new"]
    assert announced == sorted(set(announced))
    await listening.disconnect()
    await writing.disconnect()


async def test_answer_streaming_while_the_socket_was_away_arrives_complete(
    site, visitor, streaming_answerer
):
    import asyncio

    from tests.chat import answerers

    answerers.gate = asyncio.Event()
    try:
        ws, _ = await connected(site, visitor)
        await ws.send_json_to({"type": "message.send", "client_id": "c-00000001", "text": "q"})
        await frames_until(ws, "message.ack")
        await ws.disconnect()
        answerers.gate.set()

        ws, _ = await connected(site, visitor)
        await ws.send_json_to({"type": "resume", "last_seq": 1})
        frames = await frames_until(ws, "resumed")
        await replies_wait()
        while not any(
            f["type"] in {"message.done"}
            or (
                f["type"] == "message.new"
                and f["message"]["state"] == "complete"
                and f["message"]["author"] == "bot"
            )
            for f in frames
        ):
            frames.append(await ws.receive_json_from(timeout=5))
        bot_texts = [
            f["message"]["text"]
            for f in frames
            if f["type"] in {"message.new", "message.done"} and f["message"]["author"] == "bot"
        ]
        assert bot_texts[-1] == "Parcels ship in 48 h [1]."
        await ws.disconnect()
    finally:
        answerers.gate = None


async def test_a_visitor_never_sees_another_visitors_conversation(site, visitor, other_visitor):
    ws, ready = await connected(site, visitor)
    other, other_ready = await connected(site, other_visitor)
    assert ready["conversation"]["id"] != other_ready["conversation"]["id"]
    await ws.send_json_to(
        {"type": "message.send", "client_id": "c-00000001", "text": "my secret order 123"}
    )
    await frames_until(ws, "message.ack")
    assert await other.receive_nothing(timeout=0.1)
    await other.send_json_to({"type": "resume", "last_seq": 0})
    frames = await frames_until(other, "resumed")
    assert [f for f in frames if f["type"] == "message.new"] == []
    await replies_wait()
    await ws.disconnect()
    await other.disconnect()


async def test_identify_is_stored_on_the_visitor_and_never_sent_back(site, visitor):
    ws, ready = await connected(site, visitor)
    assert ready["contact"] == {"name": "", "email": ""}
    await ws.send_json_to(
        {"type": "identify", "name": "Li Lei", "email": "li@example.com", "external_id": "u-7"}
    )
    assert await ws.receive_json_from() == {"type": "identified"}
    stored = await Visitor.objects.aget(pk=visitor.pk)
    assert (stored.name, stored.email, stored.external_id) == ("Li Lei", "li@example.com", "u-7")
    await ws.disconnect()
    # They belong to the page's signed-in user, who may have signed out of this browser since.
    ws, ready = await connected(site, visitor)
    assert ready["contact"] == {"name": "", "email": ""}
    await ws.send_json_to(
        {
            "type": "leave_message",
            "client_id": "c-left-0001",
            "name": "Wang Fang",
            "email": "wang@example.com",
            "text": "Please call me back.",
        }
    )
    await frames_until(ws, "leave_message.ack")
    await ws.disconnect()
    # What the visitor typed into the form starts the next one.
    ws, ready = await connected(site, visitor)
    assert ready["contact"] == {"name": "Wang Fang", "email": "wang@example.com"}
    await ws.disconnect()


async def test_sockets_per_address_are_limited_and_given_back(site, visitor, settings):
    settings.CSBOT_SOCKETS_PER_IP = 2
    first, _ = await connected(site, visitor)
    second, _ = await connected(site, visitor)
    third = communicator(site.public_key)
    await third.connect()
    closed = await third.receive_output()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4429)
    await first.disconnect()
    again, _ = await connected(site, visitor)
    await again.disconnect()
    await second.disconnect()


@pytest.mark.parametrize(
    ("site_key", "origin"),
    [("site_nope", SITE_ORIGIN), (None, "http://[::1"), (None, "https://evil.example.org")],
)
async def test_a_refused_socket_ignores_what_follows_and_gives_its_slot_back(
    site, visitor, settings, site_key, origin
):
    # Frames already on their way when the server closes, and a malformed Origin, used to
    # crash the consumer before it gave back its socket slot: after CSBOT_SOCKETS_PER_IP of
    # them the address (every visitor behind a proxy) was locked out for an hour.
    settings.CSBOT_SOCKETS_PER_IP = 2
    for _ in range(3):
        ws = communicator(site_key or site.public_key, origin=origin)
        await ws.connect()
        await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
        await ws.send_json_to({"type": "ping"})
        closed = await ws.receive_output()
        assert (closed["type"], closed["code"]) in {
            ("websocket.close", 4404),
            ("websocket.close", 4403),
        }
        assert await ws.receive_nothing()
        await ws.disconnect()
    ws, _ = await connected(site, visitor)
    await ws.disconnect()


async def test_nothing_is_sent_after_the_server_closed_the_socket(site, visitor):
    from apps.chat import events

    ws, ready = await connected(site, visitor)
    conversation_id = ready["conversation"]["id"]
    await sync_to_async(events.conversation_erased)(conversation_id)
    closed = await ws.receive_output()
    # 4410: the visitor is still there, only the conversation was deleted.
    assert (closed["type"], closed["code"]) == ("websocket.close", 4410)
    # Still in the conversation's group until the client's close comes back: uvicorn raises
    # on a send after a close, and the consumer would die there.
    await events.typing_publish(
        conversation_id=conversation_id, author="agent", name="Mei", active=True
    )
    assert await ws.receive_nothing()
    await ws.disconnect()


async def test_a_failing_handler_still_gives_the_sockets_slot_back(
    site, visitor, settings, monkeypatch
):
    from apps.chat import consumers

    def broken(**_: object) -> None:
        raise RuntimeError("a bug in a handler")

    settings.CSBOT_SOCKETS_PER_IP = 1
    monkeypatch.setattr(consumers, "visitor_hello", broken)
    ws = communicator(site.public_key)
    await ws.connect()
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor)})
    with pytest.raises(RuntimeError, match="a bug in a handler"):
        await ws.receive_output()
    monkeypatch.undo()
    again, _ = await connected(site, visitor)  # not 4429: the one slot was given back
    await again.disconnect()


async def bot_answer_started(ws: WebsocketCommunicator, conversation_id: int) -> Message:
    """A streaming bot answer the socket has been shown: the socket relays its deltas."""
    answer = await sync_to_async(message_create)(
        conversation_id=conversation_id,
        author_kind=Message.AuthorKind.BOT,
        text="",
        state=Message.State.STREAMING,
    )
    assert (await ws.receive_json_from(timeout=5))["type"] == "message.new"
    return answer


async def test_a_burst_of_deltas_reaches_the_socket_whole(site, visitor):
    # Published back to back, before the socket's consumer has run once: a channel layer that
    # holds fewer drops the rest, and the visitor sees a gap until they resume.
    from apps.chat import events

    ws, ready = await connected(site, visitor)
    answer = await bot_answer_started(ws, ready["conversation"]["id"])
    for offset in range(300):
        await events.delta_publish(
            conversation_id=answer.conversation_id,
            message_id=answer.pk,
            seq=answer.seq,
            offset=offset,
            text="x",
        )

    offsets = [(await ws.receive_json_from(timeout=5))["offset"] for _ in range(300)]

    assert offsets == list(range(300))
    await ws.disconnect()


async def test_deltas_reach_the_socket_while_the_database_thread_is_busy(site, visitor):
    # Channels' own dispatch closes stale connections on the database thread before every
    # event: each delta of an answer waited there behind every database call of the worker.
    from apps.chat import events

    ws, ready = await connected(site, visitor)
    answer = await bot_answer_started(ws, ready["conversation"]["id"])
    busy = asyncio.create_task(sync_to_async(time.sleep)(2))
    await asyncio.sleep(0.1)  # the sleep holds the database thread now
    for offset in range(3):
        await events.delta_publish(
            conversation_id=answer.conversation_id,
            message_id=answer.pk,
            seq=answer.seq,
            offset=offset,
            text="x",
        )

    offsets = [(await ws.receive_json_from(timeout=1))["offset"] for _ in range(3)]

    assert offsets == [0, 1, 2]
    assert not busy.done()
    await busy
    await ws.disconnect()


async def hello_on(site, visitor, page) -> Visitor:
    ws = communicator(site.public_key)
    await ws.connect()
    await ws.send_json_to({"type": "hello", "v": 1, "token": token_for(visitor), "page": page})
    assert (await ws.receive_json_from())["type"] == "ready"
    await ws.disconnect()
    return await Visitor.objects.aget(pk=visitor.pk)


async def test_hello_records_the_page_the_widget_is_on_for_the_agents(site, visitor):
    seen = await hello_on(
        site, visitor, {"url": "https://shop.example.com/lamps/halo?ref=ad", "title": " Halo "}
    )
    assert (seen.page_url, seen.page_title) == (
        "https://shop.example.com/lamps/halo?ref=ad",
        "Halo",
    )
    # A page that cannot be stored is left out; the chat goes on and the last one stays.
    for unusable in (
        {"url": "javascript:alert(1)", "title": "x"},
        {"url": "https://shop.example.com/" + "a" * 2000},
        {"url": "http://[::1", "title": "x"},
        {"url": 7},
        "https://shop.example.com/",
        None,
    ):
        seen = await hello_on(site, visitor, unusable)
        assert seen.page_url == "https://shop.example.com/lamps/halo?ref=ad"
    seen = await hello_on(
        site, visitor, {"url": "https://shop.example.com/cart", "title": "t" * 400}
    )
    assert (seen.page_url, len(seen.page_title)) == ("https://shop.example.com/cart", 300)


async def test_the_page_is_masked_when_the_site_masks_personal_data(site, visitor):
    site.mask_pii = True
    await site.asave(update_fields=["mask_pii"])
    seen = await hello_on(
        site,
        visitor,
        {"url": "https://shop.example.com/account?email=wang@example.com", "title": "13812345678"},
    )
    assert "wang@example.com" not in seen.page_url
    assert "13812345678" not in seen.page_title
    # A mask longer than the short email it replaced still fits the column.
    long_url = "https://shop.example.com/?e=a@b.cc&" + "q" * 1965
    assert len(long_url) == 2000
    seen = await hello_on(site, visitor, {"url": long_url, "title": "x"})
    assert seen.page_url.startswith("https://shop.example.com/?e=[email]&q")
    assert len(seen.page_url) <= 2000
