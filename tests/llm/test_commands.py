"""llm_chat and llm_check from the shell, against loopback providers."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.llm.models import ModelProvider, ModelRoute
from tests.llm.loopback import CUT, Reply
from tests.llm.provider_replies import embeddings_reply, openai_error, openai_stream

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_llm_chat_streams_the_reply_as_it_arrives(chain, provider):
    chain(("deepseek/deepseek-chat", provider.url))
    provider.reply(openai_stream(["Parcels ", "ship ", "in 48 h."]))

    out, err = run("llm_chat", "How long does shipping take?")

    assert out == "Parcels ship in 48 h.\n"
    assert "[complete via deepseek/deepseek-chat; 12 in, 7 out]" in err
    assert provider.requests[0].json()["messages"] == [
        {"role": "user", "content": "How long does shipping take?"}
    ]


def test_llm_chat_json_reports_outcome_attempts_and_usage(chain, provider, backup):
    chain(("openai/gpt-test", provider.url), ("deepseek/deepseek-chat", backup.url))
    provider.reply(openai_stream(["Broken "], then=[CUT]))
    backup.reply(openai_stream(["Whole answer."], usage=(20, 4)))

    out, _ = run("llm_chat", "hi", "--json")

    assert json.loads(out) == {
        "outcome": "complete",
        "text": "Whole answer.",
        "route": "deepseek/deepseek-chat",
        "error_kind": None,
        "attempts": [
            {
                "route": "openai/gpt-test",
                "status": "broken",
                "error_kind": "server",
                "tokens": {"input": 5, "output": 2, "estimated": True},
            },
            {
                "route": "deepseek/deepseek-chat",
                "status": "complete",
                "error_kind": None,
                "tokens": {"input": 20, "output": 4, "estimated": False},
            },
        ],
        "usage": {
            "input_tokens": 25,
            "output_tokens": 6,
            "estimated": True,
            "cost_cny": "0",
            "cost_usd": "0",
        },
    }


def test_llm_chat_json_still_prints_when_every_route_fails_and_exits_1(chain, provider):
    chain(("openai/gpt-test", provider.url))
    provider.reply(openai_error(401, "bad key"))
    out = StringIO()

    with pytest.raises(CommandError, match="the answer is failed"):
        call_command("llm_chat", "hi", "--json", stdout=out, stderr=StringIO())

    result = json.loads(out.getvalue())
    assert (result["outcome"], result["route"], result["error_kind"]) == ("failed", None, "auth")


def test_llm_chat_uses_a_sites_routes_with_site(chain, site, provider):
    chain()
    db_provider = ModelProvider.objects.create(
        site=site, preset="qwen", base_url=provider.url, api_key="sk-qwen-site-0123"
    )
    ModelRoute.objects.create(provider=db_provider, model="qwen-plus")
    provider.reply(openai_stream(["From qwen."]))

    out, _ = run("llm_chat", "hi", "--json", "--site", site.public_key)

    assert json.loads(out)["route"] == "qwen/qwen-plus"


def test_llm_check_prints_a_row_per_route_and_fails_if_one_does(chain, site, provider, backup):
    chain(("openai/gpt-test", provider.url))
    broken = ModelProvider.objects.create(site=site, preset="ollama", base_url=backup.url)
    ModelRoute.objects.create(provider=broken, model="qwen2.5:7b")
    provider.reply(openai_stream(["p"]))
    backup.reply(Reply.json({"error": "model 'qwen2.5:7b' not found"}, status=404))
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 2 routes failed"):
        call_command("llm_check", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["SITE", "PURPOSE", "ROUTE", "RESULT", "LATENCY", "DETAIL"]
    assert lines[1].split()[:4] == ["(environment)", "chat", "openai/gpt-test", "ok"]
    assert lines[2].split()[:4] == ["Shop", "chat", "ollama/qwen2.5:7b", "protocol"]
    assert "model 'qwen2.5:7b' not found" in lines[2]
    assert provider.requests[0].json()["max_tokens"] == 1


def test_llm_check_pings_the_embeddings_model_with_one_text(chain, provider, backup):
    chain(
        ("deepseek/deepseek-chat", provider.url),
        CSBOT_LLM_EMBEDDINGS="openai/text-embedding-3-small",
        OPENAI_BASE_URL=backup.url,
        OPENAI_API_KEY="k",
    )
    provider.reply(openai_stream(["p"]))
    backup.reply(embeddings_reply([[0.1, 0.2]]))

    out, _ = run("llm_check")

    rows = [line.split()[:4] for line in out.splitlines()[1:]]
    assert rows == [
        ["(environment)", "chat", "deepseek/deepseek-chat", "ok"],
        ["(environment)", "embeddings", "openai/text-embedding-3-small", "ok"],
    ]
    assert backup.requests[0].json() == {"model": "text-embedding-3-small", "input": ["ping"]}


def test_llm_check_with_nothing_configured_checks_the_offline_answerer(chain):
    out, _ = run("llm_check")

    assert out.splitlines()[1].split()[:4] == ["(default)", "chat", "offline/extractive", "ok"]
