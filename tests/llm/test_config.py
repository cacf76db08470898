"""The environment chain: parsed LiteLLM-style, and every mistake stops start-up by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from apps.llm.config import env_config
from apps.llm.presets import PRESETS
from apps.llm.routes import Timeouts


def test_chain_lists_routes_in_order_with_keys_and_preset_addresses():
    config = env_config(
        {
            "CSBOT_LLM_CHAIN": "deepseek/deepseek-chat, qwen/qwen-plus,ollama/qwen2.5:7b",
            "DEEPSEEK_API_KEY": "sk-deepseek",
            "QWEN_API_KEY": "sk-qwen",
        }
    )

    assert [(r.label, r.base_url, r.api_key) for r in config.chain] == [
        ("deepseek/deepseek-chat", "https://api.deepseek.com", "sk-deepseek"),
        ("qwen/qwen-plus", "https://dashscope.aliyuncs.com/compatible-mode/v1", "sk-qwen"),
        ("ollama/qwen2.5:7b", "http://127.0.0.1:11434", ""),
    ]
    assert config.embeddings is None


def test_model_may_contain_slashes_and_a_bare_provider_means_its_default_model():
    config = env_config(
        {
            "CSBOT_LLM_CHAIN": "siliconflow/Qwen/Qwen2.5-7B-Instruct,Zhipu",
            "SILICONFLOW_API_KEY": "k1",
            "ZHIPU_API_KEY": "k2",
        }
    )

    assert [r.label for r in config.chain] == [
        "siliconflow/Qwen/Qwen2.5-7B-Instruct",
        f"zhipu/{PRESETS['zhipu'].default_model}",
    ]


def test_glm_and_kimi_are_aliases_of_zhipu_and_moonshot_with_their_keys():
    config = env_config(
        {
            "CSBOT_LLM_CHAIN": "glm/glm-4-flash, Kimi/kimi-k2-0905-preview",
            "CSBOT_LLM_EMBEDDINGS": "GLM/embedding-3",
            "ZHIPU_API_KEY": "k-zhipu",
            "MOONSHOT_API_KEY": "k-moonshot",
        }
    )

    assert [(r.label, r.base_url, r.api_key) for r in config.chain] == [
        ("zhipu/glm-4-flash", "https://open.bigmodel.cn/api/paas/v4", "k-zhipu"),
        ("moonshot/kimi-k2-0905-preview", "https://api.moonshot.cn/v1", "k-moonshot"),
    ]
    assert config.embeddings is not None
    assert config.embeddings.label == "zhipu/embedding-3"


def test_no_alias_is_also_a_preset_name_or_another_presets_alias():
    aliases = [alias for preset in PRESETS.values() for alias in preset.aliases]

    assert len(aliases) == len(set(aliases))
    assert not set(aliases) & set(PRESETS)


def test_base_url_variable_points_a_preset_at_any_compatible_server_without_a_key():
    config = env_config(
        {"CSBOT_LLM_CHAIN": "openai/local-model", "OPENAI_BASE_URL": "http://10.0.0.5:1234/v1"}
    )

    assert (config.chain[0].base_url, config.chain[0].api_key) == ("http://10.0.0.5:1234/v1", "")


def test_timeouts_retries_and_breaker_come_from_the_environment():
    config = env_config(
        {
            "CSBOT_LLM_CHAIN": "vllm/m",
            "CSBOT_LLM_CONNECT_TIMEOUT": "1.5",
            "CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "12",
            "CSBOT_LLM_BETWEEN_TOKENS_TIMEOUT": "8",
            "CSBOT_LLM_TOTAL_TIMEOUT": "90",
            "CSBOT_LLM_MAX_TOKENS": "512",
            "CSBOT_LLM_MAX_RETRIES": "2",
            "CSBOT_LLM_BREAKER_FAILURES": "3",
        }
    )

    route = config.chain[0]
    assert route.timeouts == Timeouts(connect=1.5, first_token=12, between_tokens=8, total=90)
    assert (route.max_tokens, route.max_retries) == (512, 2)
    assert config.gateway.breaker_failures == 3


def test_embeddings_route_is_its_own_variable():
    config = env_config({"CSBOT_LLM_EMBEDDINGS": "qwen/text-embedding-v4", "QWEN_API_KEY": "k"})

    assert config.embeddings is not None
    assert config.embeddings.label == "qwen/text-embedding-v4"
    assert config.chain == ()


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CSBOT_LLM_CHAIN": "deepsek/deepseek-chat"}, "unknown provider 'deepsek'"),
        ({"CSBOT_LLM_CHAIN": "deepseek/deepseek-chat"}, "DEEPSEEK_API_KEY is not set"),
        ({"CSBOT_LLM_CHAIN": "kimi/kimi-latest"}, "uses moonshot, but MOONSHOT_API_KEY is not"),
        (
            {"CSBOT_LLM_CHAIN": "deepseek/x", "DEEPSEEK_BASE_URL": "https://api.deepseek.com/v1"},
            "DEEPSEEK_API_KEY is not set",
        ),
        (
            {"CSBOT_LLM_CHAIN": "kimi/x", "MOONSHOT_BASE_URL": "https://API.moonshot.ai:443/v1/"},
            "MOONSHOT_API_KEY is not set",
        ),
        (
            {"CSBOT_LLM_CHAIN": "ollama/m", "OLLAMA_BASE_URL": "localhost:11434"},
            "OLLAMA_BASE_URL must be an http.s. URL",
        ),
        (
            {"CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "soon"},
            "CSBOT_LLM_FIRST_TOKEN_TIMEOUT must be a number",
        ),
        ({"CSBOT_LLM_MAX_RETRIES": "-1"}, "CSBOT_LLM_MAX_RETRIES must be at least 0"),
        (
            {"CSBOT_LLM_TOTAL_TIMEOUT": "10"},
            r"CSBOT_LLM_TOTAL_TIMEOUT \(10 s\) must be at least CSBOT_LLM_FIRST_TOKEN_TIMEOUT \(30",
        ),
        (
            {"CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "200"},
            r"CSBOT_LLM_TOTAL_TIMEOUT \(120 s\) must be at least CSBOT_LLM_FIRST_TOKEN_TIMEOUT",
        ),
        (
            {"CSBOT_LLM_EMBEDDINGS": "deepseek/x", "DEEPSEEK_API_KEY": "k"},
            "CSBOT_LLM_EMBEDDINGS names deepseek, which has no embeddings API",
        ),
    ],
)
def test_mistakes_raise_improperly_configured_naming_them(environ, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        env_config(environ)


def test_app_start_up_stops_on_an_unknown_provider(monkeypatch):
    monkeypatch.setenv("CSBOT_LLM_CHAIN", "gpt5/gpt-5")

    with pytest.raises(ImproperlyConfigured, match="unknown provider 'gpt5'"):
        apps.get_app_config("llm").ready()


def test_app_start_up_stops_on_a_missing_key(monkeypatch):
    monkeypatch.setenv("CSBOT_LLM_CHAIN", "moonshot/moonshot-v1-8k")
    monkeypatch.delenv("MOONSHOT_API_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="MOONSHOT_API_KEY"):
        apps.get_app_config("llm").ready()


def test_every_preset_has_a_valid_dialect_and_address():
    for preset in PRESETS.values():
        assert preset.dialect in {"openai", "anthropic", "ollama", "offline"}
        assert preset.base_url.startswith(("https://", "http://")) or preset.dialect == "offline"
        assert preset.default_model


def test_every_variable_read_is_listed_in_env_example():
    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'"(CSBOT_LLM_[A-Z_]+)"', (root / "apps/llm/config.py").read_text()))
    listed = (root / ".env.example").read_text()

    assert read
    assert [name for name in sorted(read) if f"\n{name}=" not in listed] == []
    for preset in PRESETS.values():
        if preset.dialect != "offline":
            assert preset.env_prefix in listed


@pytest.mark.parametrize(
    ("written", "provider", "address"),
    [
        ("ernie/ernie-speed", "qianfan", "https://qianfan.baidubce.com/v2"),
        ("wenxin/ernie-speed", "qianfan", "https://qianfan.baidubce.com/v2"),
        ("dashscope/qwen-plus", "qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("tongyi/qwen-plus", "qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
    ],
)
def test_ernie_wenxin_dashscope_and_tongyi_are_aliases(written, provider, address):
    prefix = provider.upper()
    [route] = env_config({"CSBOT_LLM_CHAIN": written, f"{prefix}_API_KEY": "k-0123456789"}).chain

    assert (route.provider, route.model, route.base_url) == (
        provider,
        written.partition("/")[2],
        address,
    )


def test_an_unknown_provider_is_told_the_names_and_the_aliases():
    with pytest.raises(ImproperlyConfigured) as raised:
        env_config({"CSBOT_LLM_CHAIN": "baidu/ernie-speed"})

    message = str(raised.value)
    assert "unknown provider 'baidu'" in message
    assert "use one of anthropic, baichuan, deepseek" in message
    assert "or an alias: dashscope (qwen), ernie (qianfan), glm (zhipu), kimi (moonshot)" in message
    assert "tongyi (qwen), wenxin (qianfan)" in message
