"""The site's pre-chat form setting, as the widget's session reply hands it on."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from apps.chat.services import visitor_identify
from apps.sites.models import Site
from tests.conftest import SITE_ORIGIN, token_for

pytestmark = pytest.mark.django_db


def session_prechat(client, site: Site, token: str = "") -> str:
    response = client.post(
        f"/api/widget/{site.public_key}/session",
        data=json.dumps({"token": token}),
        content_type="application/json",
        HTTP_ORIGIN=SITE_ORIGIN,
    )
    assert response.status_code == 200
    return response.json()["prechat"]


def test_a_new_site_asks_nobody(client, site):
    assert Site.objects.get(pk=site.pk).prechat == Site.Prechat.OFF
    assert session_prechat(client, site) == "off"


@pytest.mark.parametrize("setting", [Site.Prechat.ASK, Site.Prechat.REQUIRE])
def test_a_visitor_without_an_email_gets_the_sites_form(client, site, visitor, setting):
    Site.objects.filter(pk=site.pk).update(prechat=setting)
    assert session_prechat(client, site) == setting
    visitor_identify(visitor=visitor, name="Mei", email="", external_id="u-42")
    assert session_prechat(client, site, token_for(visitor)) == setting


def test_a_visitor_with_an_email_is_not_asked_again(client, site, visitor):
    Site.objects.filter(pk=site.pk).update(prechat=Site.Prechat.REQUIRE)
    visitor_identify(visitor=visitor, name="", email="mei@example.com", external_id="")
    assert session_prechat(client, site, token_for(visitor)) == "off"


def test_the_site_admin_sets_the_form(admin_client, site):
    url = f"/admin/sites/site/{site.pk}/change/"
    assert 'name="prechat"' in admin_client.get(url).content.decode()


def test_the_setting_reads_in_chinese_in_admin():
    with translation.override("zh-hans"):
        field = Site._meta.get_field("prechat")
        assert str(field.verbose_name) == "咨询前表单"
        assert [str(label) for _, label in field.choices] == [
            "关闭",
            "询问称呼和邮箱（访客可跳过）",
            "发送第一条消息前必须填写邮箱",
        ]
