from __future__ import annotations

import json

import pytest

from apps.chat.models import Visitor
from apps.chat.services import conversation_language_set, conversation_open
from apps.chat.tokens import visitor_token_read
from apps.sites.models import Site
from tests.conftest import SITE_ORIGIN, token_for

pytestmark = pytest.mark.django_db


def post_session(client, site_key: str, body: object, origin: str | None = SITE_ORIGIN):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        f"/api/widget/{site_key}/session",
        data=json.dumps(body),
        content_type="application/json",
        **headers,
    )


def test_a_new_visitor_gets_a_token_for_this_site(client, site):
    response = post_session(client, site.public_key, {"language": "zh-CN"})
    assert response.status_code == 200
    body = response.json()
    claim = visitor_token_read(body["token"])
    assert claim is not None
    assert claim.site_key == site.public_key
    visitor = Visitor.objects.get(public_id=body["visitor_id"])
    assert (visitor.site, visitor.language) == (site, "zh-CN")
    assert body["socket_path"] == f"/ws/chat/?site={site.public_key}"
    assert body["site"]["theme_color"] == site.theme_color
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN


@pytest.mark.parametrize("language", ["en-GB-oxendict-ab", "zh\u0000CN", "<script>", 5])
def test_a_language_that_is_not_a_short_tag_is_dropped(client, site, language):
    response = post_session(client, site.public_key, {"language": language})
    assert response.status_code == 200
    assert Visitor.objects.get(public_id=response.json()["visitor_id"]).language == ""


def test_a_valid_token_is_reused_and_no_visitor_is_created(client, site, visitor):
    token = token_for(visitor)
    response = post_session(client, site.public_key, {"token": token})
    assert response.json()["token"] == token
    assert response.json()["visitor_id"] == str(visitor.public_id)
    assert Visitor.objects.count() == 1


def test_a_token_of_another_site_gets_a_new_visitor(client, site, other_site, visitor):
    response = post_session(
        client, other_site.public_key, {"token": token_for(visitor)}, "https://other.example.net"
    )
    assert response.status_code == 200
    assert response.json()["visitor_id"] != str(visitor.public_id)


@pytest.mark.parametrize(
    "origin", [None, "https://evil.example.org", "http://shop.example.com", "null", "http://[::1"]
)
def test_an_origin_not_allowed_is_refused_with_403(client, site, origin):
    response = post_session(client, site.public_key, {}, origin)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert Visitor.objects.count() == 0
    # The page's script may read the refusal (the widget says why in the browser's console).
    assert response.get("Access-Control-Allow-Origin") == origin


def test_a_preflight_is_answered_for_any_origin_since_the_post_is_what_is_checked(client, site):
    for origin in (SITE_ORIGIN, "https://evil.example.org"):
        preflight = client.options(f"/api/widget/{site.public_key}/session", HTTP_ORIGIN=origin)
        assert preflight.status_code == 204
        assert preflight["Access-Control-Allow-Origin"] == origin
        assert preflight["Access-Control-Allow-Headers"] == "Content-Type"
    assert Visitor.objects.count() == 0


def test_unknown_site_is_404_the_page_can_read(client, db):
    response = post_session(client, "site_nope", {}, "https://shop.example.org")
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.org"


@pytest.mark.parametrize(
    "raw", ["{not json", "[]", "x" * 5000, "[" * 2000 + "]" * 2000, '{"language": "\\ud800"}']
)
def test_a_bad_body_is_a_clear_error(client, site, raw):
    response = client.post(
        f"/api/widget/{site.public_key}/session",
        data=raw,
        content_type="application/json",
        HTTP_ORIGIN=SITE_ORIGIN,
    )
    assert response.status_code in {400, 413}
    assert response.json()["error"]["code"] in {"bad_json", "too_large"}
    assert Visitor.objects.count() == 0


def test_new_visitors_per_ip_are_rate_limited(client, site, settings):
    settings.CSBOT_TOKENS_PER_MINUTE_PER_IP = 3
    codes = [post_session(client, site.public_key, {}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert Visitor.objects.count() == 3


def test_the_greeting_follows_the_language_the_visitor_writes_or_browses_in(client, site):
    site.greeting, site.greeting_other = "你好！有什么可以帮您？", "Hi! How can I help?"
    site.save()

    def greeting(body: dict) -> str:
        return post_session(client, site.public_key, body).json()["site"]["greeting"]

    assert greeting({"language": "en-US"}) == "Hi! How can I help?"
    assert greeting({"language": "zh-CN"}) == "你好！有什么可以帮您？"
    assert greeting({}) == "你好！有什么可以帮您？"  # unknown: the site's default language
    # A visitor whose browser is English but who wrote in Chinese is greeted in Chinese.
    visitor = Visitor.objects.get(language="en-US")
    conversation = conversation_open(visitor=visitor)
    conversation_language_set(conversation_id=conversation.pk, language="zh-hans", replace=True)
    assert greeting({"token": token_for(visitor)}) == "你好！有什么可以帮您？"
    # Without a greeting in the other language everyone gets the site's own.
    Site.objects.filter(pk=site.pk).update(greeting_other="")
    assert greeting({"language": "en-US"}) == "你好！有什么可以帮您？"
