"""Provider faults on the wire, through the public entry point: each ends as documented, recorded.

The chain is ``openai/gpt-test`` (the ``provider`` server) then ``deepseek/ds-test`` (the
``backup`` server). docs/models.md ("Failover") states the behaviour these tests pin down.
"""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from apps.llm.gateway import Done, Reset
from apps.llm.models import UsageRecord
from apps.llm.services import chat_stream, usage_flush
from apps.llm.types import ChatMessage, ChatRequest, TextDelta
from tests.llm.loopback import CUT, STALL, Pause, Reply, closed_port_url
from tests.llm.provider_replies import DONE, openai_chunk, openai_error, openai_stream

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST = ChatRequest(messages=(ChatMessage("user", "How long does shipping take?"),))
BACKUP_TOKENS = ["Parcels ", "ship ", "within 48 hours."]
BACKUP_TEXT = "".join(BACKUP_TOKENS)


@pytest.fixture
def two_routes(chain, provider, backup):
    chain(("openai/gpt-test", provider.url), ("deepseek/ds-test", backup.url))
    backup.reply(openai_stream(BACKUP_TOKENS))


async def answer(request: ChatRequest = REQUEST) -> tuple[list[object], Done]:
    events = [event async for event in chat_stream(site_id=None, request=request)]
    await usage_flush()
    done = events[-1]
    assert isinstance(done, Done)
    assert not any(isinstance(event, Done) for event in events[:-1])
    return events[:-1], done


def texts(events: list[object]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


@database_sync_to_async
def recorded() -> list[tuple[str, str, str, str, int | None]]:
    """(route, attempt outcome, error kind, HTTP status) of every usage record, in order."""
    return [
        (f"{r.provider}/{r.model}", r.outcome, r.error_kind, r.http_status, r.attempt)
        for r in UsageRecord.objects.order_by("created_at", "pk")
    ]


async def test_answer_streams_from_the_first_route_and_is_recorded(chain, provider):
    chain(("openai/gpt-test", provider.url))
    provider.reply(openai_stream(["Parcels ", "ship ", "in 48 h."], usage=(30, 9)))

    events, done = await answer()

    assert [type(e) for e in events] == [TextDelta, TextDelta, TextDelta]
    assert (done.outcome, done.text, done.route) == (
        "complete",
        "Parcels ship in 48 h.",
        "openai/gpt-test",
    )
    assert (done.finish_reason, done.error_kind) == ("stop", None)
    record = await database_sync_to_async(UsageRecord.objects.get)()
    assert record.call_id == done.call_id
    assert (record.provider, record.model, record.purpose, record.outcome) == (
        "openai",
        "gpt-test",
        "chat",
        "complete",
    )
    assert (record.input_tokens, record.output_tokens, record.tokens_estimated) == (30, 9, False)
    assert record.ttft_ms is not None
    assert record.latency_ms >= record.ttft_ms
    assert record.conversation_id is None


async def test_429_with_retry_after_waits_that_long_then_retries_the_same_route(
    two_routes, provider
):
    provider.reply(
        openai_error(429, "slow down", headers={"retry-after-ms": "300"}),
        openai_stream(["Second ", "try."]),
    )

    _, done = await answer()

    assert (done.outcome, done.text, done.route) == ("complete", "Second try.", "openai/gpt-test")
    first, second = provider.requests
    assert second.at - first.at >= 0.3
    assert await recorded() == [
        ("openai/gpt-test", "error", "rate_limit", 429, 1),
        ("openai/gpt-test", "complete", "", None, 2),
    ]


async def test_429_without_retry_after_retries_after_a_backoff(two_routes, provider):
    provider.reply(openai_error(429, "Rate limit reached for TPM"), openai_stream(["ok"]))

    _, done = await answer()

    assert (done.outcome, done.route) == ("complete", "openai/gpt-test")
    assert len(provider.requests) == 2
    assert [a.status for a in done.attempts] == ["error", "complete"]


async def test_429_asking_for_a_long_pause_fails_over_at_once(two_routes, provider, backup):
    provider.reply(openai_error(429, "come back later", headers={"retry-after": "120"}))
    started = time.monotonic()

    _, done = await answer()

    assert (done.outcome, done.text, done.route) == ("complete", BACKUP_TEXT, "deepseek/ds-test")
    assert time.monotonic() - started < 5
    assert len(provider.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_error_is_retried_then_fails_over(two_routes, provider, status):
    provider.reply(openai_error(status), openai_error(status))

    events, done = await answer()

    assert not any(isinstance(e, Reset) for e in events)
    assert (done.outcome, done.text, done.route) == ("complete", BACKUP_TEXT, "deepseek/ds-test")
    assert await recorded() == [
        ("openai/gpt-test", "error", "server", status, 1),
        ("openai/gpt-test", "error", "server", status, 2),
        ("deepseek/ds-test", "complete", "", None, 3),
    ]


async def test_connection_refused_is_retried_then_fails_over(chain, backup):
    chain(("openai/gpt-test", closed_port_url()), ("deepseek/ds-test", backup.url))
    backup.reply(openai_stream(BACKUP_TOKENS))

    _, done = await answer()

    assert (done.outcome, done.route) == ("complete", "deepseek/ds-test")
    assert await recorded() == [
        ("openai/gpt-test", "error", "server", None, 1),
        ("openai/gpt-test", "error", "server", None, 2),
        ("deepseek/ds-test", "complete", "", None, 3),
    ]


@pytest.mark.parametrize(
    "reply",
    [Reply(delay=30), Reply.sse([STALL])],
    ids=["no response headers", "headers then silence"],
)
async def test_no_first_token_in_time_fails_over(chain, provider, backup, reply):
    chain(
        ("openai/gpt-test", provider.url),
        ("deepseek/ds-test", backup.url),
        CSBOT_LLM_FIRST_TOKEN_TIMEOUT="0.3",
        CSBOT_LLM_MAX_RETRIES="0",
    )
    provider.reply(reply)
    backup.reply(openai_stream(BACKUP_TOKENS))

    _, done = await answer()

    assert (done.outcome, done.text) == ("complete", BACKUP_TEXT)
    record = (await recorded())[0]
    assert record == ("openai/gpt-test", "error", "timeout", None, 1)


async def test_keep_alive_comments_do_not_count_as_a_first_token(chain, provider, backup):
    chain(
        ("openai/gpt-test", provider.url),
        ("deepseek/ds-test", backup.url),
        CSBOT_LLM_FIRST_TOKEN_TIMEOUT="0.3",
        CSBOT_LLM_MAX_RETRIES="0",
    )
    provider.reply(Reply.sse([b": keep-alive\n\n", Pause(0.1)] * 10 + [STALL]))
    backup.reply(openai_stream(BACKUP_TOKENS))

    _, done = await answer()

    assert (done.outcome, done.route) == ("complete", "deepseek/ds-test")
    assert done.attempts[0].error_kind == "timeout"


async def test_keep_alives_empty_and_usage_only_chunks_are_skipped(chain, provider):
    chain(("openai/gpt-test", provider.url))
    provider.reply(
        Reply.sse(
            [
                b": keep-alive\n\n",
                openai_chunk(""),
                openai_chunk("Hello"),
                b": keep-alive\n\n",
                openai_chunk(None),
                openai_chunk(" there", finish="stop"),
                openai_chunk(usage=(5, 2), choices=False),
                DONE,
            ]
        )
    )

    events, done = await answer()

    assert [e.text for e in events] == ["Hello", " there"]
    assert (done.text, done.usage.input_tokens, done.usage.output_tokens) == ("Hello there", 5, 2)


async def test_stall_between_tokens_resets_and_regenerates_on_the_next_route(
    chain, provider, backup
):
    chain(
        ("openai/gpt-test", provider.url),
        ("deepseek/ds-test", backup.url),
        CSBOT_LLM_BETWEEN_TOKENS_TIMEOUT="0.3",
    )
    provider.reply(openai_stream(["Orders ", "usually "], then=[STALL]))
    backup.reply(openai_stream(BACKUP_TOKENS))

    events, done = await answer()

    reset = events.index(Reset("openai/gpt-test", "timeout"))
    assert texts(events[:reset]) == "Orders usually "
    assert texts(events[reset + 1 :]) == BACKUP_TEXT
    assert (done.outcome, done.text, done.route) == ("complete", BACKUP_TEXT, "deepseek/ds-test")
    assert await recorded() == [
        ("openai/gpt-test", "broken", "timeout", None, 1),
        ("deepseek/ds-test", "complete", "", None, 2),
    ]


@pytest.mark.parametrize(
    ("then", "kind"),
    [
        ([CUT], "server"),
        ([Pause(0.01), CUT], "server"),
        ([b"data: {not json\n\n"], "protocol"),
        ([openai_chunk(finish="content_filter"), DONE], "content_filter"),
        ([b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'], "server"),
    ],
    ids=[
        "cut before the finish",
        "cut after a pause",
        "malformed chunk",
        "content filter",
        "error event",
    ],
)
async def test_stream_broken_after_text_is_reset_and_never_spliced(
    two_routes, provider, then, kind
):
    provider.reply(openai_stream(["Refunds ", "take "], then=then))

    events, done = await answer()

    assert Reset("openai/gpt-test", kind) in events
    assert done.text == BACKUP_TEXT
    assert "Refunds" not in done.text
    assert (await recorded())[0] == ("openai/gpt-test", "broken", kind, None, 1)


async def test_stream_cut_after_its_finish_reason_is_complete_with_estimated_usage(chain, provider):
    chain(("openai/gpt-test", provider.url))
    provider.reply(Reply.sse([openai_chunk("All "), openai_chunk("done.", finish="stop"), CUT]))

    events, done = await answer()

    assert not any(isinstance(e, Reset) for e in events)
    assert (done.outcome, done.text) == ("complete", "All done.")
    assert done.usage.estimated


async def test_malformed_chunk_before_any_text_is_retried_on_the_same_route(two_routes, provider):
    provider.reply(Reply.sse([b"data: {oops\n\n"]), openai_stream(["Fine."]))

    events, done = await answer()

    assert not any(isinstance(e, Reset) for e in events)
    assert (done.outcome, done.text, done.route) == ("complete", "Fine.", "openai/gpt-test")
    assert [a.error_kind for a in done.attempts] == ["protocol", None]


async def test_a_chunk_of_an_unforeseen_shape_fails_over_instead_of_crashing(two_routes, provider):
    provider.reply(Reply.sse([b'data: {"choices": ["not an object"]}\n\n', DONE]))

    _, done = await answer()

    assert (done.outcome, done.route) == ("complete", "deepseek/ds-test")
    assert done.attempts[0].error_kind == "protocol"
    assert len(provider.requests) == 1


async def test_content_filter_refusal_fails_over_without_retrying(chain, provider, backup):
    chain(("qwen/qwen-plus", provider.url), ("deepseek/ds-test", backup.url))
    provider.reply(
        Reply.json(
            {
                "error": {
                    "code": "data_inspection_failed",
                    "message": "Input data may contain inappropriate content.",
                }
            },
            status=400,
        )
    )
    backup.reply(openai_stream(BACKUP_TOKENS))

    _, done = await answer()

    assert (done.outcome, done.text, done.route) == ("complete", BACKUP_TEXT, "deepseek/ds-test")
    assert len(provider.requests) == 1
    assert (await recorded())[0] == ("qwen/qwen-plus", "error", "content_filter", 400, 1)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "protocol"),
        (401, "auth"),
        (402, "quota"),
        (403, "auth"),
        (404, "protocol"),
        (422, "protocol"),
    ],
)
async def test_client_errors_are_never_retried_on_the_same_route(
    two_routes, provider, status, kind
):
    provider.reply(openai_error(status, "no"), openai_stream(["must not be asked again"]))

    _, done = await answer()

    assert done.route == "deepseek/ds-test"
    assert len(provider.requests) == 1
    assert (await recorded())[0] == ("openai/gpt-test", "error", kind, status, 1)


async def test_quota_error_with_a_429_is_not_retried(two_routes, provider):
    provider.reply(openai_error(429, "You exceeded your current quota", code="insufficient_quota"))

    _, done = await answer()

    assert done.route == "deepseek/ds-test"
    assert len(provider.requests) == 1
    assert done.attempts[0].error_kind == "quota"


async def test_regeneration_breaking_too_ends_interrupted(chain, provider, backup):
    chain(("openai/gpt-test", provider.url), ("deepseek/ds-test", backup.url))
    provider.reply(openai_stream(["First "], then=[CUT]))
    backup.reply(openai_stream(["Second "], then=[CUT]))

    events, done = await answer()

    resets = [e for e in events if isinstance(e, Reset)]
    assert resets == [Reset("openai/gpt-test", "server"), Reset("deepseek/ds-test", "server")]
    assert (done.outcome, done.text, done.route, done.error_kind) == (
        "interrupted",
        "",
        None,
        "server",
    )
    assert [r[1] for r in await recorded()] == ["broken", "broken"]


async def test_break_on_the_last_route_ends_interrupted(chain, provider):
    chain(("openai/gpt-test", provider.url))
    provider.reply(openai_stream(["Half "], then=[CUT]))

    events, done = await answer()

    assert isinstance(events[-1], Reset)
    assert done.outcome == "interrupted"


async def test_every_route_failing_before_text_ends_failed_without_reset(chain, provider, backup):
    chain(("openai/gpt-test", provider.url), ("deepseek/ds-test", backup.url))
    provider.reply(openai_error(401, "bad key"))
    backup.reply(openai_error(402, "Insufficient Balance"))

    events, done = await answer()

    assert events == []
    assert (done.outcome, done.route, done.error_kind) == ("failed", None, "quota")
    assert [(a.route.label, a.error_kind) for a in done.attempts] == [
        ("openai/gpt-test", "auth"),
        ("deepseek/ds-test", "quota"),
    ]


async def test_caller_leaving_mid_answer_is_recorded_as_cancelled(chain, provider):
    chain(("openai/gpt-test", provider.url))
    provider.reply(openai_stream(["One ", "two "], then=[STALL]))

    stream = chat_stream(site_id=None, request=REQUEST)
    first = await anext(stream)
    await stream.aclose()
    await usage_flush()

    assert first == TextDelta("One ")
    record = await database_sync_to_async(UsageRecord.objects.get)()
    assert (record.outcome, record.tokens_estimated) == ("cancelled", True)
    assert record.output_tokens > 0


async def test_api_key_never_appears_in_a_recorded_error(chain, provider, caplog):
    chain(("openai/gpt-test", provider.url))
    provider.reply(openai_error(401, "Incorrect API key provided: sk-test-openai-0123456789"))

    _, done = await answer()

    assert "sk-test-openai-0123456789" not in done.attempts[0].error.message
    assert "sk-test-openai-0123456789" not in caplog.text
