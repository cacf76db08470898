"""The model configuration that comes from the environment (deployments, tests, the shell).

``CSBOT_LLM_CHAIN="deepseek/deepseek-chat,qwen/qwen-plus,ollama/qwen2.5:7b"`` lists routes in
failover order, LiteLLM-style ``provider/model`` (the model may itself contain slashes; a bare
provider means its preset's default model). Each provider reads ``<PROVIDER>_API_KEY`` and,
optionally, ``<PROVIDER>_BASE_URL``. Parsed on every call (a few string operations) so it never
goes stale; ``LlmConfig.ready`` parses it once at start-up so a mistake stops the process there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from apps.core.lib.env import Env
from apps.llm.presets import PRESETS, preset_get
from apps.llm.routes import Route, Timeouts


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    timeouts: Timeouts
    max_tokens: int
    max_retries: int
    # Seconds; the first retry waits between half of this and all of it, doubling each time.
    retry_backoff: float
    breaker_failures: int
    breaker_cooldown: float


@dataclass(frozen=True, slots=True)
class EnvConfig:
    chain: tuple[Route, ...]
    embeddings: Route | None
    gateway: GatewaySettings


def env_config(environ: Mapping[str, str] | None = None) -> EnvConfig:
    """Read the CSBOT_LLM_* and provider variables; ImproperlyConfigured names a bad one."""
    env = Env(environ)
    defaults = Timeouts()
    gateway = GatewaySettings(
        timeouts=Timeouts(
            connect=env.float("CSBOT_LLM_CONNECT_TIMEOUT", defaults.connect, minimum=0.01),
            first_token=env.float(
                "CSBOT_LLM_FIRST_TOKEN_TIMEOUT", defaults.first_token, minimum=0.01
            ),
            between_tokens=env.float(
                "CSBOT_LLM_BETWEEN_TOKENS_TIMEOUT", defaults.between_tokens, minimum=0.01
            ),
            total=env.float("CSBOT_LLM_TOTAL_TIMEOUT", defaults.total, minimum=0.01),
        ),
        max_tokens=env.int("CSBOT_LLM_MAX_TOKENS", 1024, minimum=1),
        max_retries=env.int("CSBOT_LLM_MAX_RETRIES", 1, minimum=0),
        retry_backoff=env.float("CSBOT_LLM_RETRY_BACKOFF", 0.5, minimum=0.0),
        breaker_failures=env.int("CSBOT_LLM_BREAKER_FAILURES", 5, minimum=1),
        breaker_cooldown=env.float("CSBOT_LLM_BREAKER_COOLDOWN", 30.0, minimum=0.01),
    )
    timeouts = gateway.timeouts
    if timeouts.total < timeouts.first_token:
        raise ImproperlyConfigured(
            f"CSBOT_LLM_TOTAL_TIMEOUT ({timeouts.total:g} s) must be at least "
            f"CSBOT_LLM_FIRST_TOKEN_TIMEOUT ({timeouts.first_token:g} s): an answer cannot "
            "take less time than its first token"
        )
    chain = tuple(
        route_from_spec("CSBOT_LLM_CHAIN", spec, env, gateway)
        for spec in env.list("CSBOT_LLM_CHAIN")
    )
    embeddings_spec = env.str("CSBOT_LLM_EMBEDDINGS")
    embeddings = None
    if embeddings_spec:
        embeddings = route_from_spec("CSBOT_LLM_EMBEDDINGS", embeddings_spec, env, gateway)
        if not embeddings.preset.embeddings:
            raise ImproperlyConfigured(
                f"CSBOT_LLM_EMBEDDINGS names {embeddings.provider}, which has no embeddings API"
            )
    return EnvConfig(chain, embeddings, gateway)


def route_from_spec(variable: str, spec: str, env: Env, gateway: GatewaySettings) -> Route:
    written, _, model = spec.strip().partition("/")
    preset = preset_get(written)
    if preset is None:
        known = ", ".join(sorted(PRESETS))
        aliases = ", ".join(
            sorted(
                f"{alias} ({name})"
                for name, known_preset in PRESETS.items()
                for alias in known_preset.aliases
            )
        )
        raise ImproperlyConfigured(
            f"{variable}: unknown provider {written.strip().lower()!r} in {spec!r}; "
            f"use one of {known}, or an alias: {aliases}"
        )
    provider = preset.name
    prefix = preset.env_prefix
    base_url = env.str(f"{prefix}_BASE_URL") or preset.base_url
    if preset.dialect != "offline":
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ImproperlyConfigured(
                f"{prefix}_BASE_URL must be an http(s) URL like {preset.base_url}; got {base_url!r}"
            )
    api_key = env.str(f"{prefix}_API_KEY")
    if not api_key and preset.key_required(base_url):
        raise ImproperlyConfigured(f"{variable} uses {provider}, but {prefix}_API_KEY is not set")
    return Route(
        provider=provider,
        model=model.strip() or preset.default_model,
        base_url=base_url,
        api_key=api_key,
        timeouts=gateway.timeouts,
        max_tokens=gateway.max_tokens,
        max_retries=gateway.max_retries,
    )


def offline_route() -> Route:
    """The answerer used when nothing is configured: quotes the knowledge base, no model."""
    preset = PRESETS["offline"]
    return Route(provider=preset.name, model=preset.default_model, base_url="", max_retries=0)
