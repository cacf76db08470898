"""A NUL in an address, or a year no date can hold, is a 400 before any view sees it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/widget/%00/session",
        "/kb/%00/1/",
        "/kb/site_demo/faq/1/?x=%00",
        "/admin/chat/conversation/?status__exact=%00",
        "/admin/knowledge/article/?%00=1",
    ],
)
def test_a_nul_in_the_address_is_a_clear_400(admin_client, url):
    response = admin_client.post(url) if "session" in url else admin_client.get(url)
    assert response.status_code == 400
    assert b"NUL characters are not allowed" in response.content


def test_addresses_without_nul_pass(admin_client):
    assert admin_client.get("/admin/chat/conversation/?status__exact=bot").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["created_at__year=99999", "created_at__year=0", "created_at__year__gte=10000"],
)
def test_a_year_no_date_can_hold_is_a_clear_400_on_admin_lists(admin_client, query):
    response = admin_client.get(f"/admin/chat/message/?{query}")
    assert response.status_code == 400
    assert b"a year is between 1 and 9999" in response.content


def test_a_real_year_filters_the_admin_list(admin_client):
    assert admin_client.get("/admin/chat/message/?created_at__year=2026").status_code == 200
