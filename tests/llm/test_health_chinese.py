"""Route health in the Chinese admin: sites, circuit states and figures all in Chinese."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.llm.models import UsageRecord
from tests.llm.test_admin import health_cells

pytestmark = pytest.mark.django_db


def test_route_health_reads_in_chinese_with_chinese_commas(admin_client, chain):
    chain()  # no chain: the offline default is the one route
    for n in range(8):
        UsageRecord.objects.create(
            call_id=f"00000000-0000-0000-0000-{n:012d}",
            purpose="chat",
            provider="offline",
            model="extractive",
            outcome="complete",
            ttft_ms=4,
        )

    page = admin_client.get(
        reverse("admin:llm_modelroute_health"), headers={"accept-language": "zh-hans"}
    ).content.decode()

    [(site, _purpose, route, _host, circuit, recent, _error, _check)] = health_cells(page)
    assert site == "（默认）"
    assert route == "offline/extractive"
    assert circuit == "闭合（正常）"
    assert recent == "8 次尝试，0 次失败，首个 token 4 毫秒"
