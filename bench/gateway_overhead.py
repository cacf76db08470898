"""What the model gateway costs over reading the provider's stream with bare httpx.

    .venv/bin/python -m bench.gateway_overhead [--streams 200] [--tokens 64] [--interval 0.04]
        [--first-token 0.3] [--rounds 4]

A loopback provider (tests/llm/loopback.py, in a process of its own) streams ``--tokens``
OpenAI-style chunks, ``--interval`` seconds apart, after ``--first-token`` seconds of "prefill".
``--streams`` streams run at once (their starts spread over ``--spread`` seconds, as visitors
arrive), read with a bare ``httpx.AsyncClient`` (lines, no parsing) and through
``apps.llm.services.chat_stream`` for a site without routes of its own (chain lookup, SSE
parsing, timeouts, breaker, usage record written to the database). Each round runs both, the
first mode alternating. Prints one JSON object: p50/p90/p99 of time to first token and total
per mode, client CPU per chunk, the p50 ratios (target <= 1.05) and the p50 overhead in ms.

Runs on the embedded default (SQLite in a temporary directory) unless DATABASE_URL / REDIS_URL
are set. The figures behind docs/benchmarks.md were printed by this command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time

from bench.provider import MODEL, ROOT, percentiles, provider_start


def _setup_django(url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
    os.environ.setdefault("CSBOT_STATE_DIR", tempfile.mkdtemp(prefix="csbot-bench-"))
    os.environ["CSBOT_LOG_LEVEL"] = "WARNING"
    os.environ["CSBOT_LLM_CHAIN"] = f"openai/{MODEL}"
    os.environ["OPENAI_BASE_URL"] = url
    os.environ["OPENAI_API_KEY"] = "sk-bench"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _site_id() -> int:
    """A site without routes of its own, as most are: the gateway looks, then uses the env chain."""
    from apps.sites.models import Site

    return Site.objects.get_or_create(name="bench", defaults={"allowed_origins": "https://b.test"})[
        0
    ].pk


async def _bare(client, url: str, payload: dict) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    first = None
    async with client.stream("POST", f"{url}/chat/completions", json=payload) as response:
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: {") and '"content"' in line:
                first = time.perf_counter() - started
            if line == "data: [DONE]":
                break
    assert first is not None
    return first, time.perf_counter() - started


async def _gateway(site_id: int, request) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from apps.llm.gateway import Done
    from apps.llm.services import chat_stream
    from apps.llm.types import TextDelta

    started = time.perf_counter()
    first = None
    async for event in chat_stream(site_id=site_id, request=request):
        if first is None and isinstance(event, TextDelta):
            first = time.perf_counter() - started
        elif isinstance(event, Done):
            assert event.outcome == "complete", event
    assert first is not None
    return first, time.perf_counter() - started


async def _round(
    mode: str, url: str, site_id: int, streams: int, spread: float, seed: int
) -> list[tuple[float, float]]:
    import httpx

    from apps.llm.types import ChatMessage, ChatRequest

    request = ChatRequest(messages=(ChatMessage("user", "Benchmark question?"),), max_tokens=512)
    payload = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Benchmark question?"}],
        "stream": True,
        "max_tokens": 512,
        "stream_options": {"include_usage": True},
    }
    delays = random.Random(seed).sample(range(streams), streams)
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(delay: float) -> tuple[float, float]:
            await asyncio.sleep(delay)
            if mode == "bare":
                return await _bare(client, url, payload)
            return await _gateway(site_id, request)

        results = await asyncio.gather(*(one(d * spread / streams) for d in delays))
    from apps.llm.loopbound import loop_clients_close

    await loop_clients_close()
    return list(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--interval", type=float, default=0.04, help="seconds between tokens")
    parser.add_argument("--first-token", type=float, default=0.3, help="provider prefill, s")
    parser.add_argument("--spread", type=float, default=1.0, help="stream starts spread, s")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    tokens = [f"tok{i} " for i in range(args.tokens)]
    server, url = provider_start(tokens, interval=args.interval, first_token=args.first_token)
    try:
        _setup_django(url)
        site_id = _site_id()
        samples: dict[str, list[tuple[float, float]]] = {"bare": [], "gateway": []}
        cpu = {"bare": 0.0, "gateway": 0.0}
        # A warm-up round of each, not counted: imports, connections, the first queries.
        for mode in samples:
            asyncio.run(_round(mode, url, site_id, min(args.streams, 20), 0.1, 0))
        for number in range(args.rounds):
            # Alternate which mode goes first, so neither always meets a fresher machine.
            for mode in sorted(samples, reverse=number % 2 == 1):
                started = time.process_time()
                samples[mode] += asyncio.run(
                    _round(mode, url, site_id, args.streams, args.spread, number)
                )
                cpu[mode] += time.process_time() - started
    finally:
        server.kill()

    from django.conf import settings

    result: dict[str, object] = {
        "streams": args.streams,
        "tokens": args.tokens,
        "interval_s": args.interval,
        "provider_first_token_s": args.first_token,
        "rounds": args.rounds,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "redis": bool(settings.REDIS_URL),
    }
    for mode, values in samples.items():
        chunks = len(values) * (args.tokens + 3)
        result[mode] = {
            "ttft": percentiles([v[0] for v in values]),
            "total": percentiles([v[1] for v in values]),
            # Client CPU (all threads: the usage writes too) per chunk received.
            "cpu_us_per_chunk": round(cpu[mode] / chunks * 1e6, 1),
        }
    for metric in ("ttft", "total"):
        bare = statistics.median(v[0 if metric == "ttft" else 1] for v in samples["bare"])
        gateway = statistics.median(v[0 if metric == "ttft" else 1] for v in samples["gateway"])
        result[f"{metric}_p50_ratio"] = round(gateway / bare, 3)
        result[f"{metric}_p50_overhead_ms"] = round((gateway - bare) * 1000, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
