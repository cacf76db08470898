"""Compare daphne and uvicorn serving csbot the production way (PostgreSQL + Redis).

    .venv/bin/python -m bench.asgi_servers [--sockets 2000] [--rounds 200]

For each server: RSS with N idle visitor sockets open, and the round trip of a visitor message
(send → ack, and send → the bot's reply on the socket) over R rounds on 50 active sockets. Prints
one JSON object. The numbers behind the choice are in docs/deploy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.provider import rss_mib

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/csbot_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ORIGIN = "https://bench.example.com"
SECRET = "bench-" + uuid.uuid4().hex * 2  # 70 characters: start-up refuses under 50

SERVERS = {
    "daphne": ["-m", "daphne", "-v", "0", "csbot.asgi:application", "-p"],
    "uvicorn": [
        "-m",
        "uvicorn",
        "csbot.asgi:application",
        "--no-access-log",
        "--log-level",
        "warning",
        "--port",
    ],
}


def setup_django() -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="csbot.settings",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        CSBOT_SECRET_KEY=SECRET,
        CSBOT_SERVE_STATIC="false",
        CSBOT_MESSAGES_PER_MINUTE="100000",
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE csbot_bench"],  # noqa: S607
        capture_output=True,
        check=False,
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_tokens(count: int) -> tuple[str, list[str]]:
    from apps.chat.services import visitor_create
    from apps.chat.tokens import visitor_token_issue
    from apps.sites.models import Site

    site, _ = Site.objects.get_or_create(
        public_key="site_bench", defaults={"name": "bench", "allowed_origins": ORIGIN}
    )
    tokens = []
    for _ in range(count):
        visitor = visitor_create(site=site)
        tokens.append(
            visitor_token_issue(visitor_public_id=str(visitor.public_id), site_key=site.public_key)
        )
    return site.public_key, tokens


async def open_socket(url: str, token: str):  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect

    ws = await connect(url, origin=ORIGIN, open_timeout=60, max_queue=None)
    await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
    while json.loads(await ws.recv())["type"] != "ready":
        pass
    return ws


async def measure(
    port: int, site_key: str, tokens: list[str], rounds: int, pid: int
) -> dict[str, object]:
    url = f"ws://127.0.0.1:{port}/ws/chat/?site={site_key}"
    started = time.perf_counter()
    sockets = []
    for chunk_start in range(0, len(tokens), 200):
        chunk = tokens[chunk_start : chunk_start + 200]
        sockets += await asyncio.gather(*(open_socket(url, token) for token in chunk))
    open_seconds = time.perf_counter() - started
    rss_idle = rss_mib([pid])

    active = sockets[:50]
    acks: list[float] = []
    replies: list[float] = []

    async def converse(ws, index: int) -> None:  # type: ignore[no-untyped-def]
        for n in range(rounds // len(active)):
            sent = time.perf_counter()
            await ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "client_id": f"b-{index}-{n}-{uuid.uuid4().hex[:8]}",
                        "text": "hello",
                    }
                )
            )
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message.ack":
                    acks.append((time.perf_counter() - sent) * 1000)
                elif (
                    frame["type"] in {"message.new", "message.done"}
                    and frame["message"]["author"] == "bot"
                ):
                    replies.append((time.perf_counter() - sent) * 1000)
                    break

    await asyncio.gather(*(converse(ws, i) for i, ws in enumerate(active)))
    for ws in sockets:
        await ws.close()
    return {
        "sockets": len(sockets),
        "open_seconds": round(open_seconds, 2),
        "rss_mib_with_idle_sockets": rss_idle,
        "ack_ms": _quantiles(acks),
        "bot_reply_ms": _quantiles(replies),
    }


def _quantiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples), 2),
        "p99": round(statistics.quantiles(samples, n=100)[98], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    setup_django()
    site_key, tokens = make_tokens(args.sockets)
    results = {}
    for name, argv in SERVERS.items():
        port = 18000 + len(results)
        env = {**os.environ}
        server = subprocess.Popen([sys.executable, *argv, str(port)], cwd=ROOT, env=env)  # noqa: S603
        try:
            time.sleep(3)
            results[name] = asyncio.run(
                asyncio.wait_for(
                    measure(port, site_key, tokens, args.rounds, server.pid), timeout=300
                )
            )
            print(name, json.dumps(results[name]), file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
