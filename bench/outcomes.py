"""Time the outcomes dashboard's aggregates over a site with 100,000 conversations.

    .venv/bin/python -m bench.outcomes [--conversations 100000] [--days 30] [--runs 5] [--keep]

Seeds one site ("bench-outcomes", replaced if it exists) with conversations spread over the last
``--days`` days and everything the figures read: visitor and bot messages, answer audits (FAQ,
generated, abstained), tickets with SLA clocks (a fifth of the conversations, every reason and
status), handoff events, thumbs on one answer in ten, CSAT on half the solved tickets, and
model usage records with errors and failovers. Rows are written with ``bulk_create`` and their
timestamps set directly — for the benchmark only; the tests build conversations through the
services. Then it times each aggregate the dashboard runs (``--runs`` times, reporting the median
and the slowest), the whole page's figures, and streaming the conversation CSV, and prints one
JSON object. Runs on the embedded default (SQLite in a temporary directory) unless
``DATABASE_URL`` is set; there the seeded site is deleted afterwards unless ``--keep``.
docs/benchmarks.md ("Outcomes") has figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SITE_NAME = "bench-outcomes"
BATCH = 5000
QUESTIONS = [
    "运费多少？",
    "How much is shipping?",
    "可以开发票吗",
    "能开增值税发票吗",
    "台灯坏了怎么保修",
    "Do you ship to Hong Kong?",
    "退货要多久到账",
    "Can I change my delivery address?",
    "你们周末上班吗",
    "Is there a student discount?",
]
REASONS = ["customer_request", "missing_knowledge", "repeated_failure", "negative_sentiment"]


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
    os.environ.setdefault("CSBOT_STATE_DIR", tempfile.mkdtemp(prefix="csbot-bench-"))
    os.environ["CSBOT_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("CSBOT_EMBEDDINGS", "off")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextlib.contextmanager
def _timestamps_as_given(*models: Any) -> Iterator[None]:
    """Let bulk_create keep the seeded created_at/updated_at instead of "now"."""
    fields = [
        f
        for m in models
        for f in m._meta.concrete_fields
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _seed(conversations: int, days: int, rng: random.Random) -> tuple[Any, dict[str, int]]:
    from django.db import transaction

    from apps.analytics.models import AnswerFeedback, CsatResponse
    from apps.bot.models import AnswerAudit
    from apps.chat.models import Conversation, ConversationEvent, Message, Visitor
    from apps.handoff.models import Ticket
    from apps.llm.models import UsageRecord
    from apps.sites.models import Site

    Site.objects.filter(name=SITE_NAME).delete()
    site = Site.objects.create(name=SITE_NAME, allowed_origins="https://bench.test")
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=days)
    span = (now - start).total_seconds()
    counts = dict.fromkeys(
        ["conversations", "messages", "audits", "tickets", "events", "feedback", "csat", "usage"], 0
    )
    models = (
        Visitor, Conversation, Message, AnswerAudit, Ticket, ConversationEvent, AnswerFeedback,
        CsatResponse, UsageRecord,
    )  # fmt: skip
    with _timestamps_as_given(*models):
        for offset in range(0, conversations, BATCH):
            size = min(BATCH, conversations - offset)
            with transaction.atomic():
                _seed_batch(site, size, start, span, rng, counts)
    return site, counts


def _seed_batch(
    site: Any, size: int, start: dt.datetime, span: float, rng: random.Random, counts: dict
) -> None:
    from apps.analytics.models import AnswerFeedback, CsatResponse
    from apps.bot.models import AnswerAudit
    from apps.chat.models import Conversation, ConversationEvent, Message, Visitor
    from apps.handoff.models import Ticket
    from apps.llm.models import UsageRecord

    starts = sorted(start + dt.timedelta(seconds=rng.random() * span) for _ in range(size))
    visitors = Visitor.objects.bulk_create(
        [Visitor(site=site, created_at=at, language="zh-hans") for at in starts]
    )
    plans = [_plan(rng) for _ in starts]
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                site=site,
                visitor=v,
                status=plan["status"],
                last_seq=len(plan["turns"]) * 2,
                created_at=at,
                updated_at=at + dt.timedelta(minutes=len(plan["turns"]) * 2),
            )
            for v, at, plan in zip(visitors, starts, plans, strict=True)
        ]
    )
    messages, audits_for, usage = [], [], []
    for conversation, plan in zip(conversations, plans, strict=True):
        at = conversation.created_at
        for n, decision in enumerate(plan["turns"]):
            question_at = at + dt.timedelta(minutes=2 * n)
            text = rng.choice(QUESTIONS)
            messages.append(
                Message(conversation=conversation, seq=2 * n + 1, author_kind="visitor",
                        text=text, created_at=question_at, updated_at=question_at)
            )  # fmt: skip
            author = "agent" if decision == "agent" else "bot"
            messages.append(
                Message(conversation=conversation, seq=2 * n + 2, author_kind=author,
                        text="…", created_at=question_at, updated_at=question_at)
            )  # fmt: skip
            if decision != "agent":
                audits_for.append((len(messages) - 2, decision, question_at, text))
            if decision == "answer":
                usage += _usage(site, conversation, question_at, rng)
    messages = Message.objects.bulk_create(messages)
    audits = AnswerAudit.objects.bulk_create(
        [
            AnswerAudit(
                conversation_id=messages[i].conversation_id,
                question=messages[i],
                reply=messages[i + 1],
                created_at=at,
                language="zh-hans",
                standalone=text,
                decision=decision,
                reason="bench",
            )
            for i, decision, at, text in audits_for
        ]
    )
    UsageRecord.objects.bulk_create(usage)
    feedback = [
        AnswerFeedback(site=site, conversation_id=a.conversation_id, message=a.reply,
                       value="up" if rng.random() < 0.8 else "down", created_at=a.created_at,
                       updated_at=a.created_at)
        for a in audits if a.decision != "abstain" and rng.random() < 0.1
    ]  # fmt: skip
    AnswerFeedback.objects.bulk_create(feedback)
    tickets = Ticket.objects.bulk_create(
        [
            _ticket(site, c, plan, rng)
            for c, plan in zip(conversations, plans, strict=True)
            if plan["ticket"]
        ]
    )
    events = [
        ConversationEvent(conversation_id=t.conversation_id, kind="handoff.requested",
                          data={"reason": t.reason, "ticket": t.pk}, created_at=t.created_at)
        for t in tickets
    ] + [
        ConversationEvent(conversation=c, kind="handoff.unavailable",
                          data={"reason": "customer_request"}, created_at=c.created_at)
        for c, plan in zip(conversations, plans, strict=True) if plan["unavailable"]
    ]  # fmt: skip
    ConversationEvent.objects.bulk_create(events)
    csat = [
        CsatResponse(site=site, conversation_id=t.conversation_id, ticket=t,
                     rating=rng.choice([5, 5, 5, 4, 4, 3, 2, 1]), created_at=t.solved_at,
                     updated_at=t.solved_at)
        for t in tickets if t.status == "solved" and rng.random() < 0.5
    ]  # fmt: skip
    CsatResponse.objects.bulk_create(csat)
    for key, rows in (
        ("conversations", conversations), ("messages", messages), ("audits", audits),
        ("tickets", tickets), ("events", events), ("feedback", feedback), ("csat", csat),
        ("usage", usage),
    ):  # fmt: skip
        counts[key] += len(rows)


def _plan(rng: random.Random) -> dict[str, Any]:
    """One conversation's shape: its turns' decisions, whether it was handed off, its status."""
    turns = [
        rng.choices(["faq", "answer", "abstain"], [4, 4, 2])[0] for _ in range(rng.randint(1, 3))
    ]
    roll = rng.random()
    ticket = roll < 0.2
    if ticket:
        turns.append("agent")
    status = "closed" if ticket and rng.random() < 0.7 else ("agent" if ticket else "bot")
    return {"turns": turns, "ticket": ticket, "status": status, "unavailable": 0.2 <= roll < 0.23}


def _ticket(site: Any, conversation: Any, plan: dict, rng: random.Random) -> Any:
    from apps.handoff.models import Ticket

    created = conversation.created_at + dt.timedelta(minutes=1)
    responded = created + dt.timedelta(minutes=rng.expovariate(1 / 6))
    solved = responded + dt.timedelta(minutes=rng.expovariate(1 / 90))
    status = "solved" if plan["status"] == "closed" else rng.choice(["new", "open", "pending"])
    return Ticket(
        site=site, conversation=conversation, visitor_id=conversation.visitor_id,
        status=status, reason=rng.choice(REASONS), subject=rng.choice(QUESTIONS),
        created_at=created, updated_at=created, language="zh-hans",
        first_response_due_at=created + dt.timedelta(minutes=10),
        first_responded_at=responded if status != "new" else None,
        resolution_due_at=created + dt.timedelta(hours=8),
        solved_at=solved if status == "solved" else None,
    )  # fmt: skip


def _usage(site: Any, conversation: Any, at: dt.datetime, rng: random.Random) -> list[Any]:
    from apps.llm.models import UsageRecord

    call = uuid.uuid4()
    attempts = [("deepseek", "deepseek-chat")]
    if rng.random() < 0.03:  # the first route failed before its first token: failover
        attempts.append(("qwen", "qwen-plus"))
    records = []
    for n, (provider, model) in enumerate(attempts, start=1):
        failed = n < len(attempts)
        records.append(
            UsageRecord(
                created_at=at, call_id=call, attempt=n, purpose="chat", site=site,
                conversation=conversation, provider=provider, model=model,
                input_tokens=0 if failed else rng.randint(600, 1400),
                output_tokens=0 if failed else rng.randint(60, 300),
                outcome="error" if failed else "complete",
                error_kind="timeout" if failed else "", latency_ms=rng.randint(400, 3000),
                cost_cny=Decimal(0) if failed else Decimal("0.0021"),
            )
        )  # fmt: skip
    return records


def _time(fn: Callable[[], object], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the seeded site in place")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    _setup_django()

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from apps.analytics.selectors import insights_compute, knowledge_gaps, period_for
    from apps.analytics.selectors.feedback import feedback_figures
    from apps.analytics.selectors.outcomes import outcome_counts
    from apps.analytics.selectors.rows import conversation_rows
    from apps.analytics.selectors.tickets import csat_figures, ticket_figures
    from apps.analytics.selectors.usage import usage_figures

    started = time.perf_counter()
    site, counts = _seed(args.conversations, args.days, random.Random(args.seed))
    seeded_s = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    period = period_for(site=site, now=timezone.now(), days=args.days + 1)
    figures = {
        "outcome_counts": lambda: outcome_counts(site=site, period=period),
        "ticket_figures": lambda: ticket_figures(site=site, period=period),
        "csat_figures": lambda: csat_figures(site=site, period=period),
        "feedback_figures": lambda: feedback_figures(site=site, period=period),
        "usage_figures": lambda: usage_figures(site=site, period=period),
        "knowledge_gaps": lambda: knowledge_gaps(site=site, period=period),
        "whole_page_figures": lambda: insights_compute(site=site, period=period),
        "conversation_csv": lambda: sum(1 for _ in conversation_rows(site=site, period=period)[1]),
    }
    timings = {
        name: _time(fn, 1 if name == "conversation_csv" else args.runs)
        for name, fn in figures.items()
    }
    totals = outcome_counts(site=site, period=period)
    result = {
        "database": connection.vendor,
        "embeddings": settings.CSBOT_EMBEDDINGS,
        "seeded": counts,
        "seed_seconds": round(seeded_s, 1),
        "runs": args.runs,
        "timings": timings,
        "outcomes": totals.by_outcome,
    }
    print(json.dumps(result, indent=2))
    # The embedded run's database is a temporary file; a server's keeps only what is asked.
    if not args.keep and connection.vendor != "sqlite":
        from apps.llm.models import UsageRecord
        from apps.sites.models import Site

        # Usage records outlive their site (SET NULL): delete them first, in one statement.
        UsageRecord.objects.filter(site=site).delete()
        Site.objects.filter(pk=site.pk).delete()


if __name__ == "__main__":
    main()
