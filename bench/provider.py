"""Shared by the benchmarks: a loopback model provider in a process of its own, and figures.

The provider is ``tests/llm/loopback.py`` playing one OpenAI-style stream for every request:
``first_token`` seconds of "prefill", then each token followed by ``interval`` seconds of
silence, then the finish chunk, a usage chunk and ``[DONE]``. It runs in a child process so
its event loop does not share a CPU with the client being measured.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-model"


def _serve(
    tokens: Sequence[str], interval: float, first_token: float, ready: multiprocessing.Queue
) -> None:
    """Run the loopback provider until killed (in a child process)."""
    sys.path.insert(0, str(ROOT))
    from tests.llm.loopback import LoopbackServer, Pause, Reply
    from tests.llm.provider_replies import DONE, openai_chunk

    pieces: list[object] = [Pause(first_token)]
    for token in tokens:
        pieces += [openai_chunk(token), Pause(interval)]
    pieces += [
        openai_chunk(finish="stop"),
        openai_chunk(usage=(40, len(tokens)), choices=False),
        DONE,
    ]
    server = LoopbackServer(default=Reply.sse(pieces)).start()
    ready.put(server.url)
    while True:
        time.sleep(3600)


def provider_start(
    tokens: Sequence[str], *, interval: float, first_token: float
) -> tuple[multiprocessing.process.BaseProcess, str]:
    """Start the provider process; return it (kill it when done) and its base URL."""
    spawn = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue = spawn.Queue()
    process = spawn.Process(
        target=_serve, args=(list(tokens), interval, first_token, ready), daemon=True
    )
    process.start()
    try:
        return process, ready.get(timeout=30)
    except BaseException:
        process.kill()
        raise


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 of ``values`` (seconds) in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": float("nan"), "p90_ms": float("nan"), "p99_ms": float("nan")}
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(pick(0.9) * 1000, 1),
        "p99_ms": round(pick(0.99) * 1000, 1),
    }


def rss_mib(pids: Sequence[int]) -> float:
    """Resident memory of the processes ``pids``, summed, in MiB (from /proc)."""
    total_kib = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return round(total_kib / 1024, 1)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time the processes ``pids`` have used so far, summed (from /proc)."""
    ticks = 0
    for pid in pids:
        # Fields after the command name (which may hold spaces): utime and stime are 12 and 13.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def open_files(pids: Sequence[int]) -> int:
    """File descriptors the processes ``pids`` hold: sockets, database and Redis connections."""
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)
