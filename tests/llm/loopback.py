"""A scriptable HTTP/1.1 server on 127.0.0.1: a real provider on the wire, for tests.

It runs its own event loop in a background thread, so sync tests, async tests (any loop),
management commands and browser tests can all use it. Each request takes the next queued
``Reply`` (or the default one) and the server plays it: status, headers, then body pieces,
which may be interleaved with pauses, a stall (hold the connection, send nothing more) or a cut
(close the connection mid-body, without the chunked terminator)::

    with LoopbackServer() as provider:
        provider.reply(
            Reply.sse([b'data: {"choices": ...}\\n\\n', Pause(0.05), b"data: [DONE]\\n\\n"]),
            Reply.json({"error": {"message": "slow"}}, status=429, headers={"retry-after": "1"}),
        )
        ...point a client at provider.url...
        assert provider.requests[0].json()["model"] == "deepseek-chat"

``closed_port_url()`` gives an address where nothing listens (connection refused). Ready-made
OpenAI-style replies are in ``provider_replies.py``; fixtures (``provider``, ``chain``…) in
``fixtures.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

__all__ = ["CUT", "STALL", "LoopbackServer", "Pause", "Piece", "Reply", "closed_port_url"]


@dataclass(frozen=True)
class Pause:
    """Wait this many seconds before sending the next body piece."""

    seconds: float


class _Stall:
    def __repr__(self) -> str:
        return "STALL"


class _Cut:
    def __repr__(self) -> str:
        return "CUT"


# Hold the connection open and send nothing more, until the client leaves or the server stops.
STALL = _Stall()
# Close the connection at once, leaving the body unfinished.
CUT = _Cut()

Piece = bytes | Pause | _Stall | _Cut


@dataclass(frozen=True)
class Reply:
    """What the server sends for one request. A chunked body streams piece by piece."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Sequence[Piece] = ()
    # False: one Content-Length body (pieces must be bytes).
    chunked: bool = True
    # Seconds to wait before even the status line (a server that accepted but is thinking).
    delay: float = 0.0

    @classmethod
    def json(
        cls, data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reply:
        """A whole JSON body; ``data`` may be bytes already (a recorded body, replayed as is)."""
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return cls(
            status,
            {"content-type": "application/json", **(headers or {})},
            (body,),
            chunked=False,
        )

    @classmethod
    def sse(
        cls, pieces: Iterable[Piece], *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reply:
        return cls(status, {"content-type": "text/event-stream", **(headers or {})}, tuple(pieces))

    @classmethod
    def ndjson(cls, pieces: Iterable[Piece], *, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(200, {"content-type": "application/x-ndjson", **(headers or {})}, tuple(pieces))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    # Lower-cased names.
    headers: Mapping[str, str]
    body: bytes
    # time.monotonic() when the request arrived.
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


NOT_SCRIPTED = Reply.json({"error": {"message": "no reply scripted"}}, status=599)


class LoopbackServer:
    def __init__(self, *, default: Reply | None = None) -> None:
        """``default`` answers when no reply is queued (else HTTP 599 "no reply scripted")."""
        self.default = default or NOT_SCRIPTED
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback", daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reply(self, *replies: Reply) -> None:
        """Queue replies, one per coming request, in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Queued replies not yet sent."""
        with self._lock:
            return len(self._queue)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._track, "127.0.0.1", 0, backlog=1024)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Keep-alive: clients reuse connections, so serve requests until one ends it.
        while True:
            request = await _read_request(reader)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
                reply = self._queue.popleft() if self._queue else self.default
            if not await self._play(reply, reader, writer):
                return

    async def _play(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Send ``reply``; return whether the connection is still usable."""
        if reply.delay:
            await asyncio.sleep(reply.delay)
        headers = {k.lower(): v for k, v in reply.headers.items()}
        if reply.chunked:
            headers["transfer-encoding"] = "chunked"
        else:
            headers["content-length"] = str(sum(len(p) for p in reply.body if isinstance(p, bytes)))
        head = f"HTTP/1.1 {reply.status} Scripted\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        writer.write(head.encode("latin-1") + b"\r\n")
        for piece in reply.body:
            if isinstance(piece, Pause):
                await writer.drain()
                await asyncio.sleep(piece.seconds)
            elif piece is STALL:
                await writer.drain()
                # Returns when the client goes away; the server's stop cancels it otherwise.
                await reader.read()
                return False
            elif piece is CUT:
                await writer.drain()
                return False
            elif isinstance(piece, bytes) and piece:
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece)
        if reply.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RecordedRequest(method, target, headers, body, time.monotonic())


def closed_port_url() -> str:
    """Return an http URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
