"""A broken admin route is checked on "Save and check", and Route health shows its last error."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.llm.models import ModelProvider, UsageRecord
from tests.llm.provider_replies import openai_error, openai_stream
from tests.llm.replay import error_file
from tests.llm.test_admin import health_cells, provider_form

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-live-abcdef0123456789"
NOT_FOUND = "The model `gpt-5.2-proo` does not exist or you do not have access to it."


def openai_provider_form(site, url: str, model: str, **fields: str) -> dict[str, str]:
    return provider_form(
        site,
        preset="openai",
        base_url=url,
        api_key=KEY,
        **{"routes-0-model": model, "routes-0-max_retries": "0"},
        **fields,
    )


def test_save_and_check_warns_of_a_misspelt_model_and_keeps_it(admin_client, chain, site, provider):
    chain()
    provider.reply(error_file("openai/error-404-model-not-found.json", status=404))

    response = admin_client.post(
        reverse("admin:llm_modelprovider_add"),
        openai_provider_form(site, provider.url, "gpt-5.2-proo", _check="Save and check"),
    )

    saved = ModelProvider.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:llm_modelprovider_change", args=[saved.pk])
    [warning] = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert warning[0] == "warning"
    assert "openai/gpt-5.2-proo failed: openai protocol HTTP 404 [model_not_found]" in warning[1]
    assert NOT_FOUND in warning[1]
    assert provider.requests[0].json()["model"] == "gpt-5.2-proo"


def test_save_and_check_says_a_working_route_answered(admin_client, chain, site, provider):
    chain()
    provider.reply(openai_stream(["p"]))
    response = admin_client.post(
        reverse("admin:llm_modelprovider_add"),
        openai_provider_form(site, provider.url, "gpt-test", _check="Save and check"),
    )

    [message] = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert message[0] == "success"
    assert message[1].startswith("openai/gpt-test answered (")


def test_plain_save_checks_nothing(admin_client, chain, site, provider):
    chain()
    admin_client.post(
        reverse("admin:llm_modelprovider_add"),
        openai_provider_form(site, provider.url, "gpt-5.2-proo", _save="Save"),
    )

    assert ModelProvider.objects.exists()
    assert provider.requests == []


def test_route_health_shows_each_routes_last_error_with_the_key_masked(
    admin_client, chain, site, provider
):
    chain()
    provider.reply(
        openai_error(401, f"Incorrect API key provided: {KEY}"),
        error_file("openai/error-404-model-not-found.json", status=404),
    )
    form = openai_provider_form(site, provider.url, "gpt-5.2-proo", _check="Save and check")
    admin_client.post(reverse("admin:llm_modelprovider_add"), form)
    first = admin_client.get(reverse("admin:llm_modelroute_health")).content.decode()
    admin_client.post(reverse("admin:llm_modelroute_health"))
    second = admin_client.get(reverse("admin:llm_modelroute_health")).content.decode()

    assert UsageRecord.objects.filter(error_kind__in=["auth", "protocol"]).count() == 2
    [_offline, mine] = health_cells(first)
    assert mine[2] == "openai/gpt-5.2-proo"
    assert mine[6].startswith("auth (HTTP 401): Incorrect API key provided: ***")
    assert KEY not in first
    [_offline, mine] = health_cells(second)
    assert mine[6].startswith(f"protocol (HTTP 404): {NOT_FOUND}")
