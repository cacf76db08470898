"""A NUL in an address is a 400, before any view or database sees it."""

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
