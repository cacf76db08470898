"""Providers as data: where each one lives, which dialect it speaks and how it says "no".

A provider that speaks a known wire dialect is a ``Preset``, never a new class. The error-code
sets come from ``shared/research/providers.md`` (section 2) and are matched against the provider's
``error.code`` / ``error.type`` / top-level ``code``; markers are matched, lower-cased, inside the
code and message text. Everything not listed falls back to the HTTP status (``errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from apps.llm.types import FinishReason

Dialect = Literal["openai", "anthropic", "ollama", "offline"]

# Understood from every provider: OpenAI's own names, which most compatible servers copy.
COMMON_CODES: Mapping[str, str] = MappingProxyType(
    {
        "content_filter": "content_filter",
        "context_length_exceeded": "context_length",
        "insufficient_quota": "quota",
        "rate_limit_exceeded": "rate_limit",
        "invalid_api_key": "auth",
        "authentication_error": "auth",
        "permission_error": "auth",
    }
)
COMMON_MARKERS: tuple[tuple[str, str], ...] = (
    ("maximum context length", "context_length"),
    ("context length is only", "context_length"),
    ("context window", "context_length"),
    ("context size has been exceeded", "context_length"),
    ("exceeds the available context size", "context_length"),
    ("prompt is too long", "context_length"),
)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    dialect: Dialect
    base_url: str
    default_model: str
    # Hosted services need a key; local servers (Ollama, vLLM, llama.cpp) usually do not.
    needs_key: bool = True
    # Ask for the usage chunk (OpenAI's stream_options.include_usage); only where it is accepted.
    stream_usage: bool = False
    # Offers an OpenAI-style (or, for Ollama, native) embeddings endpoint.
    embeddings: bool = False
    # A sensible embedding model to suggest; any model the server offers may be configured.
    embedding_model: str = ""
    # Largest number of texts one embeddings request may carry.
    embedding_batch: int = 64
    # Provider error codes (code or type, as strings) -> our error kind.
    codes: Mapping[str, str] = field(default_factory=dict)
    # Lower-case substrings of code or message -> our error kind, for codes that vary by suffix.
    markers: tuple[tuple[str, str], ...] = ()
    # Provider finish_reason values outside OpenAI's set.
    finish_reasons: Mapping[str, FinishReason] = field(default_factory=dict)
    quirks: str = ""
    # Other names site owners write for it in CSBOT_LLM_CHAIN ("glm/glm-4-flash"); the route
    # is still called by ``name`` and reads ``<NAME>_API_KEY``.
    aliases: tuple[str, ...] = ()
    # The provider's own API hosts besides base_url's (international endpoints).
    official_hosts: tuple[str, ...] = ()

    @property
    def env_prefix(self) -> str:
        return self.name.upper()

    def key_required(self, base_url: str) -> bool:
        """Whether calling ``base_url`` (empty: the preset's own) needs this provider's key.

        A hosted service needs its key at any of its own hosts, whatever the path, port or case
        (``https://api.deepseek.com/v1``); pointed at another server (a proxy, a local
        OpenAI-compatible one) the key is that server's business.
        """
        if not self.needs_key:
            return False
        host = (urlsplit(base_url or self.base_url).hostname or "").rstrip(".")
        return host in {urlsplit(self.base_url).hostname, *self.official_hosts}

    def error_kind_for(self, codes: tuple[str, ...], text: str) -> str | None:
        """Return the error kind the provider's codes or message name, if any."""
        for code in codes:
            kind = self.codes.get(code) or COMMON_CODES.get(code)
            if kind:
                return kind
        lowered = text.lower()
        for marker, kind in (*self.markers, *COMMON_MARKERS):
            if marker in lowered:
                return kind
        return None


def _presets(*presets: Preset) -> Mapping[str, Preset]:
    return MappingProxyType({preset.name: preset for preset in presets})


PRESETS: Mapping[str, Preset] = _presets(
    Preset(
        name="openai",
        title="OpenAI",
        dialect="openai",
        base_url="https://api.openai.com/v1",
        default_model="gpt-4o-mini",
        stream_usage=True,
        embeddings=True,
        embedding_model="text-embedding-3-small",
        embedding_batch=256,
        quirks="Usage arrives in a final chunk with empty choices; delta.refusal means a refusal.",
    ),
    Preset(
        name="deepseek",
        title="DeepSeek",
        dialect="openai",
        base_url="https://api.deepseek.com",
        default_model="deepseek-chat",
        stream_usage=True,
        codes={"402": "quota"},
        markers=(("content exists risk", "content_filter"), ("insufficient balance", "quota")),
        finish_reasons={"insufficient_system_resource": "error"},
        quirks=(
            "`: keep-alive` comments while queued; usage on the finish chunk; reasoning in "
            'reasoning_content; input moderation is HTTP 400 {"detail": "Content Exists Risk"}. '
            "No embeddings API."
        ),
    ),
    Preset(
        name="qwen",
        title="Qwen (Alibaba DashScope, compatible mode)",
        dialect="openai",
        base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        aliases=("dashscope", "tongyi"),
        official_hosts=("dashscope-intl.aliyuncs.com",),
        default_model="qwen-plus",
        stream_usage=True,
        embeddings=True,
        embedding_model="text-embedding-v4",
        embedding_batch=10,
        codes={
            "data_inspection_failed": "content_filter",
            "DataInspectionFailed": "content_filter",
            "Arrearage": "quota",
            "Throttling.AllocationQuota": "quota",
            "Throttling.RateQuota": "rate_limit",
            "Throttling": "rate_limit",
            "InvalidApiKey": "auth",
            "AccessDenied": "auth",
        },
        markers=(("datainspectionfailed", "content_filter"),),
        quirks=(
            "Moderation refusals (data_inspection_failed) stick to the conversation history: "
            "never retried on Qwen, always failed over. Native /api/v1 protocol is not used."
        ),
    ),
    Preset(
        name="zhipu",
        title="Zhipu GLM (BigModel)",
        dialect="openai",
        base_url="https://open.bigmodel.cn/api/paas/v4",
        aliases=("glm",),
        official_hosts=("api.z.ai",),
        default_model="glm-4-flash",
        embeddings=True,
        embedding_model="embedding-3",
        codes={
            "1301": "content_filter",
            "1261": "context_length",
            "1113": "quota",
            "1304": "quota",
            "1308": "quota",
            "1310": "quota",
            "1302": "rate_limit",
            "1303": "rate_limit",
            "1305": "rate_limit",
            "1312": "server",
            **{str(code): "auth" for code in range(1000, 1006)},
        },
        finish_reasons={
            "sensitive": "content_filter",
            "network_error": "error",
            "model_context_window_exceeded": "length",
        },
        quirks=(
            'Error codes are strings ("1301"); role repeated in every delta; no finish_reason '
            'key until the last chunk; usage on the finish chunk; finish_reason "sensitive".'
        ),
    ),
    Preset(
        name="moonshot",
        title="Moonshot Kimi",
        dialect="openai",
        base_url="https://api.moonshot.cn/v1",
        aliases=("kimi",),
        official_hosts=("api.moonshot.ai",),
        default_model="moonshot-v1-8k",
        codes={
            "exceeded_current_quota_error": "quota",
            "rate_limit_reached_error": "rate_limit",
            "engine_overloaded_error": "server",
            "invalid_authentication_error": "auth",
            "incorrect_api_key_error": "auth",
        },
        markers=(
            ("input token length too long", "context_length"),
            ("exceeded model token limit", "context_length"),
        ),
        quirks="Usage inside choices[0].usage of the last chunk; errors have a type and no code.",
    ),
    Preset(
        name="qianfan",
        title="Baidu Qianfan (ERNIE, v2)",
        dialect="openai",
        base_url="https://qianfan.baidubce.com/v2",
        aliases=("ernie", "wenxin"),
        default_model="ernie-speed-128k",
        embeddings=True,
        embedding_model="embedding-v1",
        embedding_batch=16,
        codes={
            "unsafe_request": "content_filter",
            "image_url_unsafe": "content_filter",
            "tokens_too_long": "context_length",
            "characters_too_long": "context_length",
            "rpm_rate_limit_exceeded": "rate_limit",
            "tpm_rate_limit_exceeded": "rate_limit",
            "invalid_iam_token": "auth",
            "internal_error": "server",
        },
        quirks="choices[].flag != 0 marks moderated output; search_results on chunks.",
    ),
    Preset(
        name="hunyuan",
        title="Tencent Hunyuan",
        dialect="openai",
        base_url="https://api.hunyuan.cloud.tencent.com/v1",
        default_model="hunyuan-lite",
        embeddings=True,
        embedding_model="hunyuan-embedding",
        finish_reasons={"sensitive": "content_filter"},
        quirks="A `note` disclaimer on every chunk; string error codes; no usage in the stream.",
    ),
    Preset(
        name="doubao",
        title="Volcengine Ark (Doubao)",
        dialect="openai",
        base_url="https://ark.cn-beijing.volces.com/api/v3",
        default_model="doubao-seed-1-6-flash-250615",
        embeddings=True,
        embedding_model="doubao-embedding-text-240715",
        codes={
            "AccountOverdueError": "quota",
            "QuotaExceeded": "quota",
            "ServerOverloaded": "server",
            "AuthenticationError": "auth",
        },
        markers=(
            ("riskdetection", "content_filter"),
            ("sensitivecontentdetected", "content_filter"),
            ("ratelimitexceeded", "rate_limit"),
        ),
        quirks="Model ids must be dated (or ep- endpoint ids); the base URL ends in /api/v3.",
    ),
    Preset(
        name="minimax",
        title="MiniMax",
        dialect="openai",
        base_url="https://api.minimaxi.com/v1",
        official_hosts=("api.minimax.chat", "api.minimax.io"),
        default_model="MiniMax-Text-01",
        codes={
            "1026": "content_filter",
            "1027": "content_filter",
            "1008": "quota",
            "1002": "rate_limit",
            "1039": "rate_limit",
            "1004": "auth",
            "1000": "server",
            "1001": "timeout",
            "1024": "server",
            "1033": "server",
        },
        quirks=(
            'Errors may come with HTTP 200 in base_resp.status_code; role "" in deltas; zero '
            "placeholder usage on every chunk; input_sensitive/output_sensitive flags. Its "
            "embeddings API is not OpenAI-shaped and is not offered."
        ),
    ),
    Preset(
        name="yi",
        title="01.AI Yi",
        dialect="openai",
        base_url="https://api.lingyiwanwu.com/v1",
        default_model="yi-lightning",
        quirks="Generic OpenAI-compatible; no recorded payloads (verify live).",
    ),
    Preset(
        name="baichuan",
        title="Baichuan",
        dialect="openai",
        base_url="https://api.baichuan-ai.com/v1",
        default_model="Baichuan4-Air",
        embeddings=True,
        embedding_model="Baichuan-Text-Embedding",
        embedding_batch=16,
        quirks="Generic OpenAI-compatible; not covered by the research file (verify live).",
    ),
    Preset(
        name="siliconflow",
        title="SiliconFlow",
        dialect="openai",
        base_url="https://api.siliconflow.cn/v1",
        official_hosts=("api.siliconflow.com",),
        default_model="Qwen/Qwen2.5-7B-Instruct",
        embeddings=True,
        embedding_model="BAAI/bge-m3",
        quirks='Errors are {"code": int, "message", "data"}, not OpenAI-shaped; namespaced ids.',
    ),
    Preset(
        name="ollama",
        title="Ollama (native /api/chat)",
        dialect="ollama",
        base_url="http://127.0.0.1:11434",
        default_model="qwen2.5:7b",
        needs_key=False,
        embeddings=True,
        embedding_model="nomic-embed-text",
        quirks="NDJSON, final object done:true with token counts; errors may arrive mid-stream.",
    ),
    Preset(
        name="vllm",
        title="vLLM",
        dialect="openai",
        base_url="http://127.0.0.1:8000/v1",
        default_model="Qwen/Qwen2.5-7B-Instruct",
        needs_key=False,
        stream_usage=True,
        embeddings=True,
        quirks="Reasoning in `reasoning` (older: reasoning_content); context errors by message.",
    ),
    Preset(
        name="llamacpp",
        title="llama.cpp server",
        dialect="openai",
        base_url="http://127.0.0.1:8080/v1",
        default_model="default",
        needs_key=False,
        stream_usage=True,
        embeddings=True,
        codes={"exceed_context_size_error": "context_length", "unavailable_error": "server"},
        quirks="Context overflow is 400 exceed_context_size_error, or 500 on some builds.",
    ),
    Preset(
        name="anthropic",
        title="Anthropic",
        dialect="anthropic",
        base_url="https://api.anthropic.com/v1",
        default_model="claude-haiku-4-5",
        codes={
            "billing_error": "quota",
            "enforced_spend_limit_reached": "quota",
            "rate_limit_error": "rate_limit",
            "overloaded_error": "server",
            "api_error": "server",
            "request_too_large": "context_length",
        },
        quirks='Named SSE events, no [DONE]; stop_reason "refusal"; 529 when overloaded.',
    ),
    Preset(
        name="offline",
        title="Offline answerer (quotes the knowledge base)",
        dialect="offline",
        base_url="",
        default_model="extractive",
        needs_key=False,
        quirks="No model: quotes the best sentences of the passages it is given, with citations.",
    ),
)


_ALIASES: Mapping[str, Preset] = MappingProxyType(
    {alias: preset for preset in PRESETS.values() for alias in preset.aliases}
)


def preset_get(name: str) -> Preset | None:
    """Return the preset called ``name`` (any case) or one of its aliases (``kimi``)."""
    name = name.strip().lower()
    return PRESETS.get(name) or _ALIASES.get(name)


def preset_choices() -> list[tuple[str, str]]:
    return [(preset.name, preset.title) for preset in PRESETS.values()]
