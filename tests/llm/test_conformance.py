"""Recorded provider responses, replayed byte for byte over loopback HTTP, read by the real client.

Each case names the fixture (see ``provider_fixtures/README.md`` for its source) and the facts
csbot must read out of it: text, reasoning kept apart, usage (reported or estimated), the
normalised finish reason, or the error kind and whether it may be retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from apps.llm.dialects import backend_for
from apps.llm.routes import Route
from apps.llm.types import (
    ChatMessage,
    ChatRequest,
    Finish,
    LLMError,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from tests.llm import replay
from tests.llm.loopback import LoopbackServer, Reply

REQUEST = ChatRequest(messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")))


@dataclass
class Streamed:
    text: str
    reasoning: str
    usage: Usage | None
    finish: str | None
    deltas: int


async def stream(server: LoopbackServer, provider: str, reply: Reply) -> Streamed:
    server.reply(reply)
    route = Route(provider, "m", server.url, api_key="sk-test-key-0123456789")
    text, reasoning, usage, finish, deltas = [], [], None, None, 0
    async for event in backend_for(route).stream(REQUEST):
        if isinstance(event, TextDelta):
            text.append(event.text)
            deltas += 1
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Finish):
            finish = event.reason
    return Streamed("".join(text), "".join(reasoning), usage, finish, deltas)


@dataclass(frozen=True)
class StreamCase:
    provider: str
    reply: Reply
    text_start: str
    text_end: str
    text_length: int
    reasoning_start: str
    usage: Usage | None
    finish: str = "stop"


STREAM_CASES = {
    "openai text, usage-only final chunk": StreamCase(
        "openai",
        replay.chunks_file("openai/stream-text.chunks.ndjson"),
        "**Holiday Name:** Harmony Day",
        "experiences and mutual respect.",
        1724,
        "",
        Usage(16, 300),
    ),
    "openai tool call, no text, include_usage": StreamCase(
        "openai",
        replay.sse_file("openai/stream-tool-call-include-usage.sse"),
        "",
        "",
        0,
        "",
        Usage(53, 15),
    ),
    "anthropic raw SSE with ping and JSON padding": StreamCase(
        "anthropic",
        replay.sse_file("anthropic/stream-text.sse"),
        "The current exchange rate is",
        "throughout the day.",
        227,
        "",
        Usage(1007, 59),
    ),
    "anthropic chunks": StreamCase(
        "anthropic",
        replay.chunks_file("anthropic/stream-text.chunks.ndjson", anthropic=True),
        "Hello! I'm doing well",
        "anything I can help you with?",
        108,
        "",
        Usage(12, 30),
    ),
    "deepseek reasoner, usage on the last content chunk": StreamCase(
        "deepseek",
        replay.sse_file("deepseek/stream-reasoner-reasoning-content.sse"),
        "Hello there! ",
        "How can I help you today?",
        40,
        "Hmm, the user just s",
        Usage(6, 212),
    ),
    "deepseek chat cut by max_tokens": StreamCase(
        "deepseek",
        replay.chunks_file("deepseek/stream-chat-text.chunks.ndjson"),
        "## **Holiday Name:** Starlight Remembran",
        "5 minutes of silent looking at",
        1855,
        "",
        Usage(13, 400),
        "length",
    ),
    "deepseek thinking tool call": StreamCase(
        "deepseek",
        replay.chunks_file("deepseek/stream-chat-tool-call.chunks.ndjson"),
        "",
        "",
        0,
        "The user is asking f",
        Usage(339, 83),
    ),
    "qwen text, usage-only chunk": StreamCase(
        "qwen",
        replay.chunks_file("qwen/stream-qwen3-max-text.chunks.ndjson"),
        '## The Festival of Shared Stories: "Tale',
        'We are woven together."*',
        3771,
        "",
        Usage(18, 779),
    ),
    "qwen reasoning": StreamCase(
        "qwen",
        replay.chunks_file("qwen/stream-qwen3-max-reasoning.chunks.ndjson"),
        'The word **"strawberry"** contains **3**',
        "**Answer: 3**",
        816,
        'We are asked: "How m',
        Usage(24, 1355),
    ),
    "qwen tool call with empty ids in fragments": StreamCase(
        "qwen",
        replay.chunks_file("qwen/stream-qwen3-max-tool-call.chunks.ndjson"),
        "",
        "",
        0,
        "",
        Usage(295, 22),
    ),
    "zhipu: role in every delta, no finish key until the end": StreamCase(
        "zhipu",
        replay.sse_file("zhipu/stream-glm-thinking-zai.sse"),
        "4",
        "4",
        1,
        "\n1.  **Analyze the U",
        Usage(13, 564),
    ),
    "moonshot: usage inside choices[0] (single documented chunk)": StreamCase(
        "moonshot",
        replay.pretty_chunk_file("moonshot/stream-final-chunk-usage-in-choices.json"),
        "",
        "",
        0,
        "",
        Usage(10, 79),
    ),
    "hunyuan: note on every chunk, no usage at all": StreamCase(
        "hunyuan",
        replay.sse_file("hunyuan/stream-hunyuan-lite-text.sse"),
        "Got it, I'm ready to answer your questio",
        "How can I assist you today?",
        71,
        "",
        None,
    ),
    "hunyuan: text after a tool call": StreamCase(
        "hunyuan",
        replay.sse_file("hunyuan/stream-hunyuan-lite-tool-call.sse"),
        "我们将使用get_current_weather工具",
        "我们可以默认获取当前的天气情况。",
        170,
        "",
        None,
    ),
    "doubao excerpt: elision lines between events": StreamCase(
        "doubao",
        replay.sse_file("doubao/stream-doubao-seed-1-6-text.excerpt.sse"),
        "我是豆～",
        "我是豆～",
        4,
        "",
        None,
    ),
    "doubao thinking excerpt": StreamCase(
        "doubao",
        replay.sse_file("doubao/stream-doubao-seed-code-thinking.excerpt.sse"),
        "这治愈。）",
        "这治愈。）",
        5,
        "用户清晰了。",
        None,
    ),
    "doubao: every tool call in the final chunk": StreamCase(
        "doubao",
        replay.sse_file("doubao/stream-doubao-seed-code-tool-call.sse"),
        "",
        "",
        0,
        "用户需要获取北京和洛阳的当前天气",
        None,
    ),
    "unattributed host: cumulative usage on every chunk, last wins": StreamCase(
        "siliconflow",
        replay.sse_file("misc/stream-deepseek-r1-unattributed-host-usage-every-chunk.excerpt.sse"),
        "\nHello! How can I assist you today?",
        "How can I assist you today? 😊",
        37,
        "We. We can simply re",
        Usage(294, 51),
    ),
    "ollama native NDJSON": StreamCase(
        "ollama",
        replay.ndjson_file("ollama/api-chat-stream-text-qwen0.5b.ndjson"),
        "北京今天的天气晴朗",
        "建议带上伞或者手套。",
        25,
        "",
        Usage(13, 16),
    ),
    "ollama native tool calls as objects": StreamCase(
        "ollama",
        replay.ndjson_file("ollama/api-chat-stream-tool-calls-qwen2.5.ndjson"),
        "",
        "",
        0,
        "",
        Usage(316, 56),
    ),
    "ollama thinking excerpt": StreamCase(
        "ollama",
        replay.ndjson_file("ollama/api-chat-stream-thinking-tool-calls-qwen3.excerpt.ndjson"),
        "",
        "",
        0,
        "好的，用户",
        Usage(302, 431),
    ),
    "ollama documented first and final objects": StreamCase(
        "ollama",
        replay.ndjson_file(
            "ollama/api-chat-stream-first-chunk.documented.json",
            "ollama/api-chat-stream-final-chunk.documented.json",
        ),
        "The",
        "The",
        3,
        "",
        Usage(26, 282),
    ),
    "ollama /v1 whole JSON body with `reasoning`": StreamCase(
        "vllm",
        replay.Reply.json(replay.fixture_bytes("ollama/v1-chat-completion-reasoning-field.json")),
        '{"name":"Loki"',
        '"age":3}',
        38,
        "We need to output JSON",
        Usage(172, 88),
    ),
    # Read by its shape (choices[].message), not by an "object" field some servers leave out.
    "the same whole body without its `object` field": StreamCase(
        "vllm",
        replay.Reply.json(
            {
                key: value
                for key, value in json.loads(
                    replay.fixture_bytes("ollama/v1-chat-completion-reasoning-field.json")
                ).items()
                if key != "object"
            }
        ),
        '{"name":"Loki"',
        '"age":3}',
        38,
        "We need to output JSON",
        Usage(172, 88),
    ),
}


@pytest.mark.parametrize("case", STREAM_CASES.values(), ids=STREAM_CASES.keys())
async def test_recorded_stream_is_read_into_normalised_events(provider, case):
    got = await stream(provider, case.provider, case.reply)

    assert got.text.startswith(case.text_start)
    assert got.text.endswith(case.text_end)
    if case.text_length:
        assert len(got.text) == case.text_length
    assert got.reasoning.startswith(case.reasoning_start)
    assert case.reasoning_start or not got.reasoning
    assert got.finish == case.finish
    if case.usage is None:
        assert got.usage is not None
        assert got.usage.estimated
        assert got.usage.output_tokens > 0
    else:
        assert got.usage == case.usage


async def test_text_streams_as_many_deltas_not_one_block(provider):
    got = await stream(provider, "openai", replay.chunks_file("openai/stream-text.chunks.ndjson"))

    assert got.deltas > 100


async def test_reasoning_never_reaches_the_text(provider):
    got = await stream(
        provider, "deepseek", replay.sse_file("deepseek/stream-reasoner-reasoning-content.sse")
    )

    assert "Hmm" not in got.text
    assert len(got.reasoning) == 882


@dataclass(frozen=True)
class ErrorCase:
    provider: str
    reply: Reply
    kind: str
    retryable: bool
    message: str
    status: int | None


ERROR_CASES = {
    "openai 404 model_not_found": ErrorCase(
        "openai",
        replay.error_file("openai/error-404-model-not-found.json"),
        "protocol",
        False,
        "does not exist",
        404,
    ),
    "anthropic 404 not_found_error": ErrorCase(
        "anthropic",
        replay.error_file("anthropic/error-404-not-found.json"),
        "protocol",
        False,
        "claude-sonet-4-5",
        404,
    ),
    "deepseek 402 insufficient balance": ErrorCase(
        "deepseek",
        replay.error_file("deepseek/error-402-insufficient-balance.json"),
        "quota",
        False,
        "Insufficient Balance",
        402,
    ),
    "deepseek 400 served as application/octet-stream": ErrorCase(
        "deepseek",
        replay.error_file(
            "deepseek/error-400-invalid-request.json", content_type="application/octet-stream"
        ),
        "protocol",
        False,
        "No tool output found",
        400,
    ),
    "deepseek Content Exists Risk (transcribed)": ErrorCase(
        "deepseek",
        replay.error_file("deepseek/error-400-content-exists-risk.transcribed.json"),
        "content_filter",
        False,
        "Content Exists Risk",
        400,
    ),
    "qwen data_inspection_failed": ErrorCase(
        "qwen",
        replay.error_file("qwen/error-400-data-inspection-failed.json"),
        "content_filter",
        False,
        "inappropriate content",
        400,
    ),
    "qwen native-shape InvalidApiKey": ErrorCase(
        "qwen",
        replay.error_file("qwen/error-401-invalid-api-key-native-api.json", status=401),
        "auth",
        False,
        "Invalid API-key",
        401,
    ),
    "zhipu 1301 moderation (documented)": ErrorCase(
        "zhipu",
        replay.error_file("zhipu/error-1301-content-filter.documented.json", status=400),
        "content_filter",
        False,
        "不安全或敏感内容",
        400,
    ),
    "moonshot content_filter type (documented)": ErrorCase(
        "moonshot",
        replay.error_file("moonshot/error-400-content-filter.documented.json"),
        "content_filter",
        False,
        "considered high risk",
        400,
    ),
    "qianfan v2 malformed_json (documented)": ErrorCase(
        "qianfan",
        replay.error_file("qianfan/error-400-malformed-json.documented.json"),
        "protocol",
        False,
        "Invalid Argument",
        400,
    ),
    "hunyuan string code 1001 (transcribed)": ErrorCase(
        "hunyuan",
        replay.error_file("hunyuan/error-400-invalid-request.transcribed.json"),
        "protocol",
        False,
        "角色需交替出现",
        400,
    ),
    "doubao InvalidEndpointOrModel (sdk-printed, unwrapped)": ErrorCase(
        "doubao",
        replay.error_file("doubao/error-404-model-not-found.sdk-printed.json"),
        "protocol",
        False,
        "does not exist",
        404,
    ),
    "siliconflow {code, message, data}": ErrorCase(
        "siliconflow",
        replay.error_file("siliconflow/error-400-model-not-exist.json"),
        "protocol",
        False,
        "Model does not exist",
        400,
    ),
    "vllm context length (wrapped, numeric code)": ErrorCase(
        "vllm",
        replay.error_file("vllm/error-400-context-length.json"),
        "context_length",
        False,
        "context length is only 1024",
        400,
    ),
    "vllm legacy flat error (transcribed)": ErrorCase(
        "vllm",
        replay.error_file("vllm/error-400-legacy-top-level.transcribed.json"),
        "protocol",
        False,
        "max_tokens must be at least 1",
        400,
    ),
    "llama.cpp exceed_context_size_error": ErrorCase(
        "llamacpp",
        replay.error_file("llamacpp/error-400-exceed-context-size.json"),
        "context_length",
        False,
        "exceeds the available context size",
        400,
    ),
    "llama.cpp context overflow reported as 500": ErrorCase(
        "llamacpp",
        replay.error_file("llamacpp/error-500-context-size-exceeded-server-error.json"),
        "context_length",
        False,
        "Context size has been exceeded",
        500,
    ),
    "ollama error body (documented)": ErrorCase(
        "ollama",
        replay.error_file("ollama/error-body.documented.json", status=500),
        "server",
        True,
        "failed to generate a response",
        500,
    ),
    "ollama error line inside a 200 stream (documented, /api/generate shape)": ErrorCase(
        "ollama",
        replay.ndjson_file("ollama/api-generate-stream-midstream-error.documented.ndjson"),
        "server",
        True,
        "error was encountered while running the model",
        None,
    ),
}


@pytest.mark.parametrize("case", ERROR_CASES.values(), ids=ERROR_CASES.keys())
async def test_recorded_error_is_classified(provider, case):
    with pytest.raises(LLMError) as caught:
        await stream(provider, case.provider, case.reply)

    error = caught.value
    assert (error.kind, error.retryable, error.status) == (case.kind, case.retryable, case.status)
    assert case.message in error.message
    assert error.provider == case.provider


async def events_until_error(route: Route) -> tuple[list[object], LLMError]:
    """Read the stream, which must fail: what came before the failure, and the failure."""
    events: list[object] = []

    async def read() -> None:
        async for event in backend_for(route).stream(REQUEST):
            events.append(event)

    with pytest.raises(LLMError) as caught:
        await read()
    return events, caught.value


async def test_qianfan_excerpt_streams_its_text_then_is_a_cut_stream(provider):
    """The excerpt has two chunks and no finish: text read past flag/search_results, then a cut."""
    provider.reply(replay.chunks_file("qianfan/stream-ernie-4.0-8k-search-results.chunks.ndjson"))
    route = Route("qianfan", "ernie-4.0-8k-latest", provider.url, api_key="bce-v3/test-key")

    events, error = await events_until_error(route)

    assert events == [TextDelta("今天是**"), TextDelta("20")]
    assert (error.kind, error.retryable) == ("protocol", True)


async def test_minimax_empty_role_and_placeholder_usage_are_tolerated(provider):
    """role "" and zero placeholder usage: no text, no usage taken; the stream has no finish."""
    provider.reply(replay.pretty_chunk_file("minimax/stream-chunk-empty-role.json"))
    route = Route("minimax", "MiniMax-M2.5", provider.url, api_key="sk-test-key-0123456789")

    events, error = await events_until_error(route)

    assert events == []
    assert "before its finish reason" in error.message


async def test_the_request_carries_the_key_model_and_usage_option(provider):
    await stream(
        provider, "deepseek", replay.sse_file("deepseek/stream-reasoner-reasoning-content.sse")
    )

    sent = provider.requests[0]
    assert sent.path == "/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-key-0123456789"
    assert sent.json() == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_anthropic_request_moves_the_system_prompt_and_sends_its_headers(provider):
    await stream(provider, "anthropic", replay.sse_file("anthropic/stream-text.sse"))

    sent = provider.requests[0]
    assert sent.path == "/messages"
    assert sent.headers["x-api-key"] == "sk-test-key-0123456789"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json() == {
        "model": "m",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1024,
        "stream": True,
    }


async def test_local_ollama_gets_no_key_and_the_native_chat_endpoint(provider):
    provider.reply(replay.ndjson_file("ollama/api-chat-stream-text-qwen0.5b.ndjson"))
    route = Route("ollama", "qwen:0.5b", provider.url)

    completion = await backend_for(route).complete(
        ChatRequest(messages=REQUEST.messages, temperature=0.2, max_tokens=64, stop=("\n\n",))
    )

    assert completion.text.startswith("北京今天")
    sent = provider.requests[0]
    assert sent.path == "/api/chat"
    assert "authorization" not in sent.headers
    assert sent.json()["options"] == {"temperature": 0.2, "num_predict": 64, "stop": ["\n\n"]}
