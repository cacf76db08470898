"""The site's change page hands its owner the script tag to paste."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from apps.sites.models import Site

pytestmark = pytest.mark.django_db


def snippet_on_page(client, site: Site, **headers: str) -> str:
    page = client.get(reverse("admin:sites_site_change", args=[site.pk]), **headers)
    assert page.status_code == 200
    found = re.search(
        r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', page.content.decode(), re.S
    )
    assert found, "no embed snippet on the site's page"
    return html.unescape(found.group(1))


def test_the_site_page_shows_the_script_tag_with_its_key(admin_client, site):
    assert snippet_on_page(admin_client, site) == (
        f'<script src="http://testserver/static/csbot/widget.js" data-site="{site.public_key}" '
        "async></script>"
    )


def test_the_tag_names_the_host_the_admin_reached(admin_client, site, settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    snippet = snippet_on_page(admin_client, site, HTTP_HOST="chat.example.com", secure=False)
    assert 'src="http://chat.example.com/static/csbot/widget.js"' in snippet


def test_a_key_that_could_break_out_is_shown_as_text(admin_client, site):
    Site.objects.filter(pk=site.pk).update(public_key='k"></textarea><b id=x>')
    site.refresh_from_db()
    page = admin_client.get(reverse("admin:sites_site_change", args=[site.pk])).content.decode()
    assert "<b id=x>" not in page
    assert 'data-site="k&quot;&gt;&lt;/textarea&gt;&lt;b id=x&gt;"' in html.unescape(
        re.search(r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    )


def test_the_add_page_has_no_tag_yet(admin_client):
    page = admin_client.get(reverse("admin:sites_site_add")).content.decode()
    assert "embed-snippet" not in page


def test_the_snippet_is_explained_in_chinese(admin_client, site):
    page = admin_client.get(
        reverse("admin:sites_site_change", args=[site.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "嵌入聊天窗口" in page
    assert "的 &lt;/body&gt; 之前" in page
