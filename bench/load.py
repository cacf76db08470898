"""Load: idle and streaming visitor sockets against csbot served the production way.

    .venv/bin/python -m bench.load [--sockets 10000] [--streams 500] [--rounds 2]
        [--workers 1,2] [--tokens 32] [--interval 0.05] [--first-token 0.2] [--clients 2]

For each worker count: that many uvicorn processes (``csbot.asgi:application``, one per port,
as behind nginx's upstream) on PostgreSQL + Redis, the model chain pointed at a loopback
provider (``bench/provider.py``) streaming ``--tokens`` tokens ``--interval`` s apart after
``--first-token`` s. ``--clients`` client processes (``bench/load_clients.py``) open
``--sockets`` visitor sockets (hello → ready), of which ``--streams`` then each ask ``--rounds``
questions one after another through the real pipeline (search → decide → model → guard →
store), while the others hold. The same client processes first read the bare provider with
httpx at the same concurrency: the floor. Prints one JSON object: sockets held, workers' RSS,
first-token and inter-token latency and what csbot adds to the floor's (p50/p99), answers per
second and the 2-worker/1-worker ratio, and what was lost or duplicated — checked on the
client (every token once, in order; every answer complete once) and in the database (every
question stored once, followed by its one complete answer).

Uses ``DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/csbot_load``, created if
missing) and ``REDIS_URL`` (default ``redis://127.0.0.1:6379/11``) under a fresh key prefix.
docs/benchmarks.md ("Load") has the figures and how to read them.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from bench.load_clients import ClientPlan, client_main
from bench.provider import (
    MODEL,
    ROOT,
    cpu_seconds,
    open_files,
    percentiles,
    provider_start,
    rss_mib,
)

ORIGIN = "https://load.example.com"
FIRST_TOKEN = "Delivery to Shanghai takes 1-2 days [1]. "  # noqa: S105 - not a secret
SOURCE_ADDRESSES = 8


def answer_tokens(count: int) -> list[str]:
    """What the provider streams: a cited first sentence (strict citations show it at once)."""
    return [FIRST_TOKEN, *(f"w{n} " for n in range(1, count))]


def setup_django() -> None:
    """Configure Django for the parent: the bench database (created, migrated) and Redis."""
    database_url = os.environ.setdefault(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/csbot_load"
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="csbot.settings",
        CSBOT_SECRET_KEY=os.environ.get("CSBOT_SECRET_KEY", "load-" + uuid.uuid4().hex * 2),
        CSBOT_LOG_LEVEL="WARNING",
    )
    if database_url.startswith("postgresql://"):
        name = database_url.rsplit("/", 1)[1]
        subprocess.run(  # noqa: S603 - fixed arguments, the bench's own database name
            [  # noqa: S607 - psql from PATH, as the other benches
                "psql",
                database_url.rsplit("/", 1)[0] + "/postgres",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            capture_output=True,
            check=False,
        )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(*, sockets: int) -> tuple[Any, list[str]]:
    """A fresh site with a help centre and ``sockets`` visitors; return it and their tokens."""
    from apps.bot.models import BotSettings
    from apps.chat.models import Visitor
    from apps.chat.tokens import visitor_token_issue
    from apps.knowledge.models import Status
    from apps.knowledge.services.content import article_create, collection_create
    from apps.sites.models import Site

    site = Site.objects.create(name="load", allowed_origins=ORIGIN)
    # Lexical search alone (--embeddings off) is less sure of itself than the hybrid the
    # default threshold was calibrated on; the bench measures answering, not abstaining.
    BotSettings.objects.create(site=site, answer_threshold=0.2)
    collection = collection_create(name=f"Load help {site.pk}")
    collection.sites.add(site)
    article_create(
        collection=collection,
        title="Shipping and delivery",
        body=(
            "We ship every order with SF Express.\n\n## Delivery times\n"
            "Delivery takes 1-2 days to Shanghai and 4-7 days to Xinjiang.\n\n## Shipping fees\n"
            "Shipping is free on orders of 99 yuan or more; below that it costs 10 yuan."
        ),
        language="en",
        status=Status.PUBLISHED,
    )
    article_create(
        collection=collection,
        title="Returns and refunds",
        body="You can return unused items within 30 days.\n\n## Refunds\nRefunds take 3 days.",
        language="en",
        status=Status.PUBLISHED,
    )
    # bulk_create: the benchmark's visitors only, as the widget's session endpoint would make them.
    visitors = Visitor.objects.bulk_create(
        [Visitor(site=site) for _ in range(sockets)], batch_size=2000
    )
    tokens = [
        visitor_token_issue(visitor_public_id=str(v.public_id), site_key=site.public_key)
        for v in visitors
    ]
    return site, tokens


def check_database(site: Any, sent: Sequence[str], expected: str) -> dict[str, int]:
    """Every question stored once and followed by exactly one complete answer, nothing else."""
    from apps.bot.models import AnswerAudit
    from apps.chat.models import Message

    sent_set = set(sent)
    stored = Counter(
        Message.objects.filter(
            conversation__site=site, author_kind=Message.AuthorKind.VISITOR
        ).values_list("client_id", flat=True)
    )
    rows = Message.objects.filter(conversation__site=site).order_by("conversation_id", "seq")
    answered = bad_answers = orphan_answers = 0
    previous: tuple[int, str] | None = None
    for conversation_id, author, state, text in rows.values_list(
        "conversation_id", "author_kind", "state", "text"
    ):
        if author == Message.AuthorKind.BOT:
            follows_question = previous == (conversation_id, Message.AuthorKind.VISITOR)
            if not follows_question:
                orphan_answers += 1
            elif state == Message.State.COMPLETE and text == expected:
                answered += 1
            else:
                bad_answers += 1
        previous = (conversation_id, author)
    decisions = Counter(
        AnswerAudit.objects.filter(conversation__site=site).values_list("decision", flat=True)
    )
    return {
        "questions_sent": len(sent),
        "questions_lost": len(sent_set - set(stored)),
        "questions_duplicated": sum(n - 1 for n in stored.values() if n > 1),
        "questions_unexpected": len(set(stored) - sent_set),
        "answers_complete_once": answered,
        "answers_wrong_or_incomplete": bad_answers,
        "answers_extra": orphan_answers,
        "answers_lost": len(sent) - answered - bad_answers,
        "model_answers": decisions.get(AnswerAudit.Decision.ANSWER, 0),
        "other_decisions": sum(n for d, n in decisions.items() if d != AnswerAudit.Decision.ANSWER),
    }


@contextlib.contextmanager
def clients(plans: Sequence[ClientPlan]) -> Iterator[list[Any]]:
    """Start one client process per plan; yield their pipes; end them all."""
    spawn = multiprocessing.get_context("spawn")
    started = []
    try:
        for plan in plans:
            parent, child = spawn.Pipe()
            process = spawn.Process(target=client_main, args=(child, plan), daemon=True)
            process.start()
            started.append((process, parent))
        yield [pipe for _, pipe in started]
    finally:
        for process, pipe in started:
            with contextlib.suppress(OSError, EOFError):
                pipe.send(("close", None))
                if pipe.poll(30):
                    pipe.recv()
            process.join(5)
            if process.is_alive():
                process.kill()


def ask_all(pipes: Sequence[Any], command: str, argument: object = None) -> list[dict[str, Any]]:
    for pipe in pipes:
        pipe.send((command, argument))
    return [pipe.recv() for pipe in pipes]


class RssSampler:
    """The workers' summed RSS, sampled in the background; ``peak`` is the highest seen."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, rss_mib(self.pids))

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        # A phase shorter than the interval is still sampled at its end.
        self._sample()


@contextlib.contextmanager
def profiled(pids: Sequence[int], directory: str | None, phase: str) -> Iterator[None]:
    """With ``directory``, record each worker with py-spy while the body runs (folded stacks)."""
    if not directory:
        yield
        return
    os.makedirs(directory, exist_ok=True)
    spies = [
        subprocess.Popen(  # noqa: S603 - py-spy next to our interpreter, fixed arguments
            [
                os.path.join(os.path.dirname(sys.executable), "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--output",
                os.path.join(directory, f"{phase}-{n}.folded"),
                "--nonblocking",
                "--format",
                "raw",
            ],
            stdout=subprocess.DEVNULL,
        )
        for n, pid in enumerate(pids)
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(60)


def _split(items: Sequence[str], parts: int) -> list[list[str]]:
    return [list(items[n::parts]) for n in range(parts)]


def _merged(results: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [value for result in results for value in result[key]]


def _added(csbot: dict[str, float], floor: dict[str, float]) -> dict[str, float]:
    return {
        q: round(csbot[f"{q}_ms"] - floor[f"{q}_ms"], 1)
        for q in ("p50", "p99")
        if csbot.get(f"{q}_ms") == csbot.get(f"{q}_ms")  # not NaN
    }


def run_workers(
    count: int, *, args: argparse.Namespace, provider_url: str, expected: str
) -> dict[str, Any]:
    """One measurement with ``count`` workers: open, floor, stream, check."""
    from tests.workers import asgi_workers

    site, tokens = seed(sockets=args.sockets)
    env = {
        "CSBOT_LLM_CHAIN": f"openai/{MODEL}",
        "OPENAI_BASE_URL": provider_url,
        "OPENAI_API_KEY": "sk-load",
        "CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "120",
        "CSBOT_LLM_TOTAL_TIMEOUT": "600",
        # A fresh namespace: no socket slots or cached answers left by an earlier run.
        "CSBOT_REDIS_PREFIX": f"load-{uuid.uuid4().hex[:12]}",
        "CSBOT_SOCKETS_PER_IP": str(args.sockets + 100),
        "CSBOT_MESSAGES_PER_MINUTE": "100000",
        "CSBOT_EMBEDDINGS": args.embeddings,
        "CSBOT_SERVE_STATIC": "false",
    }
    active, idle = tokens[: args.streams], tokens[args.streams :]
    sources = [f"127.0.0.{n}" for n in range(2, 2 + SOURCE_ADDRESSES)]
    result: dict[str, Any] = {"workers": count, "load_average_before": os.getloadavg()}
    with asgi_workers(count, **env) as workers:
        pids = [w.process.pid for w in workers]
        rss_start = rss_mib(pids)
        plans = [
            ClientPlan(
                number=n,
                ws_urls=[f"{w.ws_url}/ws/chat/?site={site.public_key}" for w in workers],
                origin=ORIGIN,
                idle_tokens=idle_part,
                active_tokens=active_part,
                source_addresses=sources,
                provider_url=provider_url,
                model=MODEL,
                expected_answer=expected,
                clients=args.clients,
            )
            for n, (idle_part, active_part) in enumerate(
                zip(_split(idle, args.clients), _split(active, args.clients), strict=True)
            )
        ]
        with clients(plans) as pipes:
            cpu_before = cpu_seconds(pids)
            with profiled(pids, args.py_spy, f"{count}w-open"):
                opened = ask_all(pipes, "open")
            cpu_open = cpu_seconds(pids) - cpu_before
            result["sockets_opened"] = sum(o["opened"] for o in opened)
            result["open_seconds"] = round(max(o["seconds"] for o in opened), 1)
            result["open_failures"] = dict(sum((Counter(o["failures"]) for o in opened), Counter()))
            result["rss_mib_start"] = rss_start
            result["rss_mib_idle"] = rss_mib(pids)
            result["worker_open_files"] = open_files(pids)
            # CPU time, not wall time: comparable between runs on a busy machine.
            result["worker_cpu_ms_per_socket_opened"] = round(
                cpu_open * 1000 / max(1, result["sockets_opened"]), 2
            )
            warm = ask_all(pipes, "warm")
            floor = ask_all(pipes, "floor", (args.rounds, args.stagger))
            with RssSampler(pids) as sampler, profiled(pids, args.py_spy, f"{count}w-stream"):
                started, cpu_before = time.perf_counter(), cpu_seconds(pids)
                streamed = ask_all(pipes, "stream", (args.rounds, args.stagger))
                seconds = time.perf_counter() - started
                cpu_stream = cpu_seconds(pids) - cpu_before
            result["rss_mib_peak_streaming"] = sampler.peak
            alive = ask_all(pipes, "alive")
            result["sockets_held"] = sum(a["alive"] for a in alive)
            result["load_average_after"] = os.getloadavg()
    complete = sum(s["complete"] for s in streamed)
    ttft = percentiles(_merged(streamed, "first_token"))
    floor_ttft = percentiles(_merged(floor, "first_token"))
    itl = percentiles(_merged(streamed, "gaps"))
    floor_itl = percentiles(_merged(floor, "gaps"))
    result.update(
        {
            "first_token": {
                "csbot": ttft,
                "floor": floor_ttft,
                "added_ms": _added(ttft, floor_ttft),
            },
            "inter_token": {"csbot": itl, "floor": floor_itl, "added_ms": _added(itl, floor_itl)},
            "answers_in_flight": in_flight(streamed),
            "stream_seconds": round(seconds, 2),
            "floor_seconds": round(max(f["seconds"] for f in floor), 2),
            "answers_per_second": round(complete / seconds, 1),
            "worker_cpu_ms_per_answer": round(cpu_stream * 1000 / max(1, complete), 1),
            "client": {
                "answers_complete": complete,
                "answers_incomplete": sum(len(s["sent"]) for s in streamed) - complete,
                "tokens_out_of_order_or_twice": sum(s["duplicated_tokens"] for s in streamed),
                "answers_timed_out": sum(s["timed_out"] for s in streamed),
                "incomplete_examples": [i for s in streamed for i in s["incomplete"]][:5],
            },
            "database": check_database(
                site, [c for s in [*warm, *streamed] for c in s["sent"]], expected
            ),
        }
    )
    return result


def in_flight(streamed: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many answers were under way (asked, final not yet in) as each measured question
    was asked, over all client processes: the concurrency the figures were taken at."""
    spans = sorted(span for s in streamed for span in s["spans"])
    starts = [start for start, _ in spans]
    counts = []
    for asked in _merged(streamed, "measured_sent_at"):
        begun = bisect.bisect_right(starts, asked)
        counts.append(sum(1 for _, done in spans[:begun] if done > asked))
    if not counts:
        return {}
    counts.sort()
    return {f"p{q}": counts[min(len(counts) - 1, len(counts) * q // 100)] for q in (10, 50, 90)}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10000, help="open sockets, active included")
    parser.add_argument("--streams", type=int, default=500, help="sockets that ask")
    parser.add_argument("--rounds", type=int, default=2, help="questions per asking socket")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between tokens")
    parser.add_argument("--first-token", type=float, default=0.2, help="provider prefill, s")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="start the asking sockets evenly over this many seconds, and leave each one's "
        "first question out of the figures (steady state); 0: all at once",
    )
    parser.add_argument("--embeddings", default="off", choices=["off", "local"])
    parser.add_argument("--py-spy", metavar="DIR", help="folded stacks of the workers per phase")
    args = parser.parse_args(argv)
    if args.streams > args.sockets:
        parser.error("--streams cannot exceed --sockets")
    return args


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every worker count against one provider; Django is set up and migrated."""
    tokens = answer_tokens(args.tokens)
    expected = "".join(tokens).strip()
    provider, provider_url = provider_start(
        tokens, interval=args.interval, first_token=args.first_token
    )
    try:
        runs = [
            run_workers(int(n), args=args, provider_url=provider_url, expected=expected)
            for n in args.workers.split(",")
        ]
    finally:
        provider.kill()
    return report(args, runs)


def main() -> None:
    args = parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Workers and clients inherit it: one descriptor per socket on each side.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    setup_django()
    print(json.dumps(measure(args), indent=2))


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    from django.conf import settings

    result: dict[str, Any] = {
        "sockets": args.sockets,
        "streams": args.streams,
        "rounds": args.rounds,
        "tokens": args.tokens,
        "interval_s": args.interval,
        "provider_first_token_s": args.first_token,
        "client_processes": args.clients,
        "stagger_s": args.stagger,
        "embeddings": args.embeddings,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "cpus": os.cpu_count(),
        "runs": runs,
    }
    by_workers = {run["workers"]: run["answers_per_second"] for run in runs}
    if 1 in by_workers and 2 in by_workers and by_workers[1]:
        result["throughput_ratio_2_to_1"] = round(by_workers[2] / by_workers[1], 2)
    result["lost"] = sum(
        run["database"]["questions_lost"] + run["database"]["answers_lost"] for run in runs
    )
    result["duplicated"] = sum(
        run["database"]["questions_duplicated"]
        + run["database"]["answers_extra"]
        + run["client"]["tokens_out_of_order_or_twice"]
        for run in runs
    )
    return result


if __name__ == "__main__":
    main()
