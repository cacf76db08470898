"""The visitors of the load benchmark (``bench/load.py``): one process of many sockets each.

A client process opens its share of visitor sockets (hello → ready, then they hold), spread
round-robin over the worker addresses like nginx's upstream, from several 127.0.0.x source
addresses. On command it streams questions on its active sockets, or reads the bare provider
with the same concurrency (the floor), and returns raw timings and what it received, for the
parent to merge and check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

QUESTION = "How long does delivery to Shanghai take? My order number is {n}."
OPEN_AT_ONCE = 100
FRAME_TIMEOUT = 120.0


@dataclass(frozen=True)
class ClientPlan:
    """What one client process does (pickled to it)."""

    number: int
    ws_urls: list[str]
    origin: str
    idle_tokens: list[str]
    active_tokens: list[str]
    source_addresses: list[str]
    provider_url: str
    model: str
    expected_answer: str
    # How many client processes share the visitors (to interleave their start times).
    clients: int = 1


@dataclass
class Answer:
    """One question as this visitor lived it."""

    client_id: str
    # The visitor's how-manieth question (0 first); with a stagger the first ones ramp up.
    round: int = 0
    acked: int = 0
    # When it was sent and when its final answer (or an error) arrived: perf_counter, which
    # every process on the machine reads from the same clock.
    sent_at: float = 0.0
    done_at: float = 0.0
    # Seconds from sending the question to the first delta, and between later deltas.
    first_token: float | None = None
    gaps: list[float] = field(default_factory=list)
    # Delta offsets out of order (a token lost or sent twice).
    offset_faults: int = 0
    streamed: str = ""
    final: str | None = None
    finals: int = 0
    error: str = ""

    def complete(self, expected: str) -> bool:
        return (
            self.acked == 1
            and self.finals == 1
            and self.offset_faults == 0
            and self.final == expected
            and self.streamed.strip() == expected
        )


class Visitor:
    def __init__(self, ws: Any, number: str) -> None:
        self.ws = ws
        self.number = number
        self.conversation_id = 0


def client_main(conn: Connection, plan: ClientPlan) -> None:
    """Serve the parent's commands until ``close`` (the target of a spawned process)."""
    import uvloop

    uvloop.run(_serve(conn, plan))


async def _serve(conn: Connection, plan: ClientPlan) -> None:
    loop = asyncio.get_running_loop()
    idle: list[Visitor] = []
    active: list[Visitor] = []
    while True:
        command, argument = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            started = time.perf_counter()
            failures: Counter[str] = Counter()
            idle = await _open_all(plan, plan.idle_tokens, "i", 0, failures)
            active = await _open_all(plan, plan.active_tokens, "a", len(idle), failures)
            conn.send(
                {
                    "opened": len(idle) + len(active),
                    "failures": dict(failures),
                    "seconds": time.perf_counter() - started,
                    "conversations": [v.conversation_id for v in active],
                }
            )
        elif command == "floor":
            rounds, stagger = argument
            conn.send(await _floor(plan, len(active), rounds=rounds, stagger=stagger))
        elif command == "stream":
            rounds, stagger = argument
            conn.send(await _stream(plan, active, rounds=rounds, stagger=stagger))
        elif command == "warm":
            # One question through each worker, not timed: imports, index, connections.
            conn.send(await _stream(plan, active[: len(plan.ws_urls)], rounds=1, tag="w"))
        elif command == "alive":
            conn.send(await _alive(idle + active))
        elif command == "close":
            await asyncio.gather(*(v.ws.close() for v in idle + active), return_exceptions=True)
            conn.send({"closed": len(idle) + len(active)})
            return


async def _open_all(
    plan: ClientPlan, tokens: list[str], kind: str, start: int, failures: Counter[str]
) -> list[Visitor]:
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(index: int, token: str) -> Visitor | None:
        async with gate:
            try:
                return await _open(plan, start + index, token, f"{plan.number}{kind}{index}")
            except Exception as exc:
                failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                return None

    opened = await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    return [v for v in opened if v is not None]


async def _open(plan: ClientPlan, index: int, token: str, number: str) -> Visitor:
    from websockets.asyncio.client import connect

    url = plan.ws_urls[index % len(plan.ws_urls)]
    source = plan.source_addresses[index % len(plan.source_addresses)]
    ws = await connect(
        url,
        origin=plan.origin,  # type: ignore[arg-type]
        open_timeout=120,
        ping_interval=None,
        max_queue=None,
        local_addr=(source, 0),
    )
    visitor = Visitor(ws, number)
    await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
    async with asyncio.timeout(FRAME_TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "ready":
                visitor.conversation_id = frame["conversation"]["id"]
                return visitor
            if frame["type"] == "error":
                await ws.close()
                raise RuntimeError(frame["code"])


def _delays(plan: ClientPlan, count: int, stagger: float) -> list[float]:
    """When each of ``count`` visitors starts: evenly over ``stagger`` seconds, the client
    processes' visitors interleaved (0 for all without a stagger)."""
    clients = plan.clients
    return [stagger * (k * clients + plan.number) / (count * clients) for k in range(count)]


def _measured(answers: list[Answer], stagger: float) -> list[Answer]:
    """The answers the figures are taken from: with a stagger, not each visitor's first, which
    ran while the others were still joining."""
    return [a for a in answers if not stagger or a.round > 0]


async def _stream(
    plan: ClientPlan,
    active: list[Visitor],
    *,
    rounds: int,
    stagger: float = 0.0,
    tag: str = "r",
) -> dict[str, Any]:
    """Each active visitor asks ``rounds`` questions, one after the other, the first after
    its share of ``stagger``."""
    started = time.perf_counter()
    delays = _delays(plan, len(active), stagger)
    answers = await asyncio.gather(
        *(_converse(plan, v, rounds, tag, delay) for v, delay in zip(active, delays, strict=True))
    )
    flat = [answer for per_visitor in answers for answer in per_visitor]
    measured = _measured(flat, stagger)
    return {
        "seconds": time.perf_counter() - started,
        "first_token": [a.first_token for a in measured if a.first_token is not None],
        "gaps": [gap for a in measured for gap in a.gaps],
        "spans": [(a.sent_at, a.done_at) for a in flat],
        "measured_sent_at": [a.sent_at for a in measured],
        "sent": [a.client_id for a in flat],
        "complete": sum(a.complete(plan.expected_answer) for a in flat),
        "incomplete": [
            {
                "client_id": a.client_id,
                "acked": a.acked,
                "finals": a.finals,
                "offset_faults": a.offset_faults,
                "final_matches": a.final == plan.expected_answer,
                "error": a.error,
            }
            for a in flat
            if not a.complete(plan.expected_answer)
        ][:20],
        "duplicated_tokens": sum(a.offset_faults for a in flat),
        # Not answered within FRAME_TIMEOUT: an overloaded server, counted apart from errors.
        "timed_out": sum(a.error.startswith("TimeoutError") for a in flat),
    }


async def _converse(
    plan: ClientPlan, visitor: Visitor, rounds: int, tag: str, delay: float = 0.0
) -> list[Answer]:
    await asyncio.sleep(delay)
    answers = []
    for n in range(rounds):
        # A different order number each time: the answer cache never answers for the model.
        number = f"{visitor.number}{tag}{n}"
        answer = Answer(client_id=f"load-{number}", round=n)
        answers.append(answer)
        try:
            await _ask(visitor.ws, answer, QUESTION.format(n=number))
        except Exception as exc:
            answer.error = type(exc).__name__ + ": " + str(exc)[:80]
        finally:
            answer.done_at = time.perf_counter()
    return answers


async def _ask(ws: Any, answer: Answer, text: str) -> None:
    sent = answer.sent_at = time.perf_counter()
    await ws.send(json.dumps({"type": "message.send", "client_id": answer.client_id, "text": text}))
    last = sent
    async with asyncio.timeout(FRAME_TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            now = time.perf_counter()
            kind = frame["type"]
            if kind == "message.ack" and frame["client_id"] == answer.client_id:
                answer.acked += 1
            elif kind == "message.delta":
                if answer.first_token is None:
                    answer.first_token = now - sent
                else:
                    answer.gaps.append(now - last)
                last = now
                if frame["offset"] != len(answer.streamed):
                    answer.offset_faults += 1
                answer.streamed += frame["text"]
            elif kind in ("message.done", "message.new") and frame["message"]["author"] == "bot":
                if frame["message"]["state"] == "streaming":
                    continue
                answer.final = frame["message"]["text"]
                answer.finals += 1
                return
            elif kind == "error":
                answer.error = frame["code"]
                return


async def _floor(
    plan: ClientPlan, concurrency: int, *, rounds: int, stagger: float = 0.0
) -> dict[str, Any]:
    """The bare provider read with httpx: as many streams at once as this process's visitors,
    started as they are."""
    import httpx

    payload = {
        "model": plan.model,
        "messages": [{"role": "user", "content": QUESTION.format(n=0)}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    first_tokens: list[float] = []
    gaps: list[float] = []
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=FRAME_TIMEOUT) as client:

        async def read(counted: bool) -> None:
            sent = time.perf_counter()
            last = None
            url = f"{plan.provider_url}/chat/completions"
            async with client.stream("POST", url, json=payload) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {") and '"content"' in line:
                        now = time.perf_counter()
                        if counted and last is None:
                            first_tokens.append(now - sent)
                        elif counted:
                            gaps.append(now - last)
                        last = now

        async def loop(delay: float) -> None:
            await asyncio.sleep(delay)
            for n in range(rounds):
                await read(counted=not stagger or n > 0)

        await asyncio.gather(*(loop(delay) for delay in _delays(plan, concurrency, stagger)))
    return {"seconds": time.perf_counter() - started, "first_token": first_tokens, "gaps": gaps}


async def _alive(visitors: list[Visitor]) -> dict[str, int]:
    """Ping every socket: how many still answer."""

    async def ping(visitor: Visitor) -> bool:
        try:
            waiter = await visitor.ws.ping()
            async with asyncio.timeout(30):
                await waiter
            return True
        except Exception:
            return False

    results = await asyncio.gather(*(ping(v) for v in visitors))
    return {"alive": sum(results), "dead": len(results) - sum(results)}
