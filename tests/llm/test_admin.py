"""The admin: keys are write-only, routes validate, health and usage totals are visible."""

from __future__ import annotations

import importlib
import logging
import re
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.llm.models import ModelPrice, ModelProvider, ModelRoute, UsageRecord
from tests.llm.provider_replies import openai_error, openai_stream

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-live-abcdef0123456789"
sealing = importlib.import_module("apps.llm.migrations.0002_seal_provider_api_keys")


def provider_form(site, **fields) -> dict[str, str]:
    data = {
        "site": str(site.pk),
        "preset": "deepseek",
        "name": "",
        "base_url": "",
        "api_key": "",
        "routes-TOTAL_FORMS": "1",
        "routes-INITIAL_FORMS": "0",
        "routes-MIN_NUM_FORMS": "0",
        "routes-MAX_NUM_FORMS": "1000",
        "routes-0-position": "0",
        "routes-0-model": "deepseek-chat",
        "routes-0-purpose": "chat",
        "routes-0-enabled": "on",
        "routes-0-connect_timeout": "5",
        "routes-0-first_token_timeout": "30",
        "routes-0-between_tokens_timeout": "20",
        "routes-0-total_timeout": "120",
        "routes-0-max_tokens": "1024",
        "routes-0-max_retries": "1",
    }
    data.update(fields)
    return data


def test_api_key_is_stored_but_never_shown_back(admin_client, site):
    response = admin_client.post(
        reverse("admin:llm_modelprovider_add"), provider_form(site, api_key=KEY)
    )
    assert response.status_code == 302
    provider = ModelProvider.objects.get()
    assert provider.api_key == KEY
    assert provider.routes.get().model == "deepseek-chat"

    change = admin_client.get(reverse("admin:llm_modelprovider_change", args=[provider.pk]))
    listing = admin_client.get(reverse("admin:llm_modelprovider_changelist"))

    assert KEY not in change.content.decode()
    assert "A key is stored" in change.content.decode()
    assert KEY not in listing.content.decode()


def test_saving_without_a_key_keeps_it_and_clearing_removes_it(admin_client, site):
    provider = ModelProvider.objects.create(site=site, preset="ollama", api_key=KEY)
    url = reverse("admin:llm_modelprovider_change", args=[provider.pk])
    unchanged = provider_form(site, preset="ollama", name="Local")
    unchanged["routes-TOTAL_FORMS"] = "0"

    admin_client.post(url, unchanged)
    provider.refresh_from_db()
    assert (provider.name, provider.api_key) == ("Local", KEY)

    admin_client.post(url, {**unchanged, "clear_api_key": "on"})
    provider.refresh_from_db()
    assert provider.api_key == ""


def test_a_hosted_provider_without_a_key_is_refused(admin_client, site):
    response = admin_client.post(reverse("admin:llm_modelprovider_add"), provider_form(site))

    assert response.status_code == 200
    assert "DeepSeek needs an API key." in response.content.decode()
    assert not ModelProvider.objects.exists()


def test_a_hosted_provider_at_a_variant_of_its_own_address_still_needs_a_key(admin_client, site):
    form = provider_form(site, base_url="https://API.deepseek.com/v1/")

    response = admin_client.post(reverse("admin:llm_modelprovider_add"), form)

    assert "DeepSeek needs an API key." in response.content.decode()
    assert not ModelProvider.objects.exists()


def test_removing_the_key_while_typing_a_new_one_is_refused(admin_client, site):
    provider = ModelProvider.objects.create(site=site, preset="deepseek", api_key=KEY)
    form = provider_form(site, api_key="sk-new-0123456789", clear_api_key="on")
    form["routes-TOTAL_FORMS"] = "0"

    response = admin_client.post(
        reverse("admin:llm_modelprovider_change", args=[provider.pk]), form
    )

    assert response.status_code == 200
    assert "Type a new key or tick “Remove the stored key”, not both." in response.content.decode()
    provider.refresh_from_db()
    assert provider.api_key == KEY


def test_embeddings_route_on_a_provider_without_embeddings_is_refused(admin_client, site):
    form = provider_form(site, api_key=KEY, **{"routes-0-purpose": "embeddings"})

    response = admin_client.post(reverse("admin:llm_modelprovider_add"), form)

    assert response.status_code == 200
    assert "This provider has no embeddings API." in response.content.decode()
    assert not ModelRoute.objects.exists()


def test_health_page_lists_routes_and_checks_them_on_request(
    admin_client, chain, site, provider, backup
):
    chain(("openai/gpt-test", provider.url))
    failing = ModelProvider.objects.create(
        site=site, preset="vllm", base_url=backup.url + "/v1", api_key=KEY
    )
    ModelRoute.objects.create(provider=failing, model="local-model")
    url = reverse("admin:llm_modelroute_health")

    page = admin_client.get(url).content.decode()
    assert "openai/gpt-test" in page
    assert "vllm/local-model" in page
    assert "closed" in page

    provider.reply(openai_stream(["p"]))
    backup.reply(openai_error(401, f"bad key {KEY}"))
    checked = admin_client.post(url).content.decode()

    assert "Checked 2 routes, 1 failed." in checked
    assert "<strong>auth</strong>" in checked
    assert KEY not in checked
    assert UsageRecord.objects.filter(purpose="check").count() == 2


def health_cells(page: str) -> list[list[str]]:
    """Return the text of each health row's cells (the heading row has none)."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.DOTALL):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row)
        ]
        if cells:
            rows.append(cells)
    return rows


def health_rows(page: str) -> dict[tuple[str, str], str]:
    """Map each health row's (site, route) to its "Last 24 h" cell."""
    return {(cells[0], cells[2]): cells[5] for cells in health_cells(page)}


def test_route_health_counts_each_routes_own_attempts(
    admin_client, chain, provider, site, other_site
):
    chain(("deepseek/deepseek-chat", provider.url))
    mine, theirs = (
        ModelRoute.objects.create(
            provider=ModelProvider.objects.create(site=shop, preset="deepseek", api_key=KEY),
            model="deepseek-chat",
        )
        for shop in (site, other_site)
    )
    for route, attempts in ((mine, 2), (theirs, 4), (None, 3)):
        for n in range(attempts):
            UsageRecord.objects.create(
                call_id=f"00000000-0000-0000-{route.pk if route else 0:04d}-{n:012d}",
                purpose="chat",
                site=route.provider.site if route else other_site,
                route=route,
                provider="deepseek",
                model="deepseek-chat",
                outcome="complete" if n else "error",
            )

    page = admin_client.get(reverse("admin:llm_modelroute_health")).content.decode()

    assert health_rows(page) == {
        ("(environment)", "deepseek/deepseek-chat"): "3 attempts, 1 failed",
        ("Shop", "deepseek/deepseek-chat"): "2 attempts, 1 failed",
        ("Other shop", "deepseek/deepseek-chat"): "4 attempts, 1 failed",
    }


async def test_checking_routes_from_the_admin_under_asgi_records_their_usage(
    async_client, admin_user, chain, provider, caplog
):
    # Under ASGI the view runs in asgiref's thread-sensitive executor: the check's usage writer
    # must not hand its inserts back to that thread (as llm_check, which records them).
    chain(("openai/gpt-test", provider.url))
    await sync_to_async(async_client.force_login)(admin_user)
    provider.reply(openai_stream(["p"], usage=(7, 1)))

    response = await async_client.post(reverse("admin:llm_modelroute_health"))

    assert "Checked 1 routes, 0 failed." in response.content.decode()
    record = await UsageRecord.objects.aget(purpose="check")
    assert (record.provider, record.input_tokens, record.outcome) == ("openai", 7, "complete")
    assert "usage records failed" not in caplog.text


def test_usage_list_shows_totals_for_the_filtered_conversation(admin_client, visitor):
    from apps.chat.services import conversation_open

    conversation = conversation_open(visitor=visitor)
    for tokens in (100, 250):
        UsageRecord.objects.create(
            call_id=f"00000000-0000-0000-0000-{tokens:012d}",
            purpose="chat",
            conversation=conversation,
            provider="deepseek",
            model="deepseek-chat",
            input_tokens=tokens,
            output_tokens=10,
            outcome="complete",
            cost_cny=Decimal("0.5"),
        )
    UsageRecord.objects.create(
        call_id="00000000-0000-0000-0000-000000000001",
        purpose="chat",
        provider="deepseek",
        model="deepseek-chat",
        input_tokens=9999,
        outcome="complete",
    )

    page = admin_client.get(
        reverse("admin:llm_usagerecord_changelist"),
        {"conversation__id__exact": conversation.pk},
    ).content.decode()

    assert "calls 2 (attempts 2); tokens in 350, out 20; cost ¥1.0000 / $0.0000." in page


def test_a_price_version_cannot_be_edited(admin_client):
    price = ModelPrice.objects.create(
        provider="qwen", model="qwen-plus", valid_from=timezone.now(), input_cny=Decimal("0.8")
    )
    url = reverse("admin:llm_modelprice_change", args=[price.pk])

    admin_client.post(url, {"provider": "qwen", "model": "qwen-plus", "input_cny": "99"})

    price.refresh_from_db()
    assert price.input_cny == Decimal("0.8")
    assert 'name="input_cny"' not in admin_client.get(url).content.decode()


def stored_api_key(provider: ModelProvider) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM llm_modelprovider WHERE id = %s", [provider.pk])
        return cursor.fetchone()[0]


def test_the_database_holds_the_key_sealed(site):
    provider = ModelProvider.objects.create(site=site, preset="deepseek", api_key=KEY)

    assert KEY not in stored_api_key(provider)
    assert ModelProvider.objects.get().api_key == KEY


def test_a_key_sealed_under_a_rotated_secret_reads_while_it_is_a_fallback(site, settings, caplog):
    provider = ModelProvider.objects.create(site=site, preset="deepseek", api_key=KEY)
    old_secret = settings.SECRET_KEY

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a new secret key" * 4, [old_secret]
    assert ModelProvider.objects.get().api_key == KEY

    settings.SECRET_KEY_FALLBACKS = []
    with caplog.at_level(logging.ERROR):
        unreadable = ModelProvider.objects.get(pk=provider.pk)

    assert unreadable.api_key == ""
    assert "CSBOT_SECRET_KEY_FALLBACKS" in caplog.text
    assert KEY not in caplog.text


def test_the_migration_seals_keys_stored_in_plain_text(site):
    provider = ModelProvider.objects.create(site=site, preset="deepseek")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE llm_modelprovider SET api_key = %s WHERE id = %s", [KEY, provider.pk]
        )
    assert ModelProvider.objects.get().api_key == KEY  # read as it is until sealed

    with connection.schema_editor() as schema_editor:
        sealing.seal_stored_keys(django_apps, schema_editor)
    sealed = stored_api_key(provider)
    with connection.schema_editor() as schema_editor:
        sealing.unseal_stored_keys(django_apps, schema_editor)

    assert KEY not in sealed
    assert stored_api_key(provider) == KEY
