"""Small wire-level rules: Retry-After, SSE framing, key redaction, batched usage writes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from apps.llm.errors import redact, retry_after_seconds
from apps.llm.sse import SSEEvent, sse_events
from apps.llm.usage import UsageWriter


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_seconds(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_may_be_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=30)

    seconds = retry_after_seconds({"retry-after": format_datetime(when, usegmt=True)})

    assert 28 <= seconds <= 30


async def test_sse_skips_comments_and_joins_multi_line_data():
    async def lines():
        for line in [
            ": keep-alive",
            "",
            "id: 7",
            "event: delta",
            'data: {"a":',
            "data: 1}",
            "",
            ":HTTP_STATUS/200",
            "data:[DONE]",
        ]:
            yield line

    events = [event async for event in sse_events(lines())]

    assert events == [SSEEvent("delta", '{"a":\n1}'), SSEEvent("message", "[DONE]")]


def test_keys_are_redacted_from_provider_messages():
    assert redact("Incorrect API key provided: sk-abcdef123", "sk-abcdef123") == (
        "Incorrect API key provided: ***"
    )


async def test_usage_entries_arriving_together_are_written_in_one_batch():
    batches = []

    async def write(entries):
        batches.append(list(entries))

    writer = UsageWriter(write)
    for entry in ("a", "b", "c"):
        writer.submit(entry)
    await writer.flush()

    assert batches == [["a", "b", "c"]]


async def test_a_failed_usage_write_is_logged_not_raised(caplog):
    async def write(entries):
        raise RuntimeError("database down")

    writer = UsageWriter(write)
    writer.submit("a")
    with caplog.at_level(logging.ERROR):
        await writer.flush()

    assert "writing 1 usage records failed" in caplog.text
