"""CSRF: every URL refuses a tokenless POST from a signed-in user, except the listed exemptions.

Django's CsrfViewMiddleware checks a POST before any view runs, so every URL pattern is tried,
not only the ones whose view handles POST: a pattern added later is covered without editing
this file, and a new ``csrf_exempt`` fails here until it is listed below with its reason.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern

from apps.handoff.selectors import AGENTS_GROUP
from tests.conftest import SITE_ORIGIN

# view (module.name) → why it does without Django's token, and the test of what protects it.
EXEMPT = {
    "apps.chat.views.widget_session": (
        "called cross-origin by the host page without cookies; the site key and the Origin "
        "allowlist keep other pages out (tests/chat/test_widget_session.py::"
        "test_an_origin_not_allowed_is_refused_with_403; below: a signed-in admin's cookie "
        "changes nothing)"
    ),
    "apps.chat.attachment_views.widget_attachment": (
        "the widget's upload: cross-origin, without cookies, like widget_session; the visitor "
        "token in the form and the Origin allowlist keep other pages out (tests/chat/"
        "test_attachments.py::test_an_origin_the_site_does_not_allow_is_refused_with_403)"
    ),
    "apps.chat.attachment_views.console_attachment": (
        "exempt only so that its size-limited upload handler parses the body first; the view "
        "then runs Django's check itself (tests/chat/test_attachments.py::"
        "test_the_console_upload_needs_the_csrf_token)"
    ),
}


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + _route(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _patterns(pattern, route)
        else:
            found.append((route, pattern))
    return found


def _route(pattern: object) -> str:
    """A concrete path for a route or regex: parameters become 1, alternatives their first."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<\w+>\.\*\)", "anything", text)
        text = re.sub(r"\(\?P<\w+>([^|)]*)[^)]*\)", r"\1", text)
        return text.lstrip("^").rstrip("$")
    return re.sub(r"<(?:\w+:)?\w+>", "1", text)


def _view_name(pattern: URLPattern) -> str:
    callback = pattern.callback
    return f"{callback.__module__}.{getattr(callback, '__name__', type(callback).__name__)}"


@pytest.fixture
def staff_agent(admin_user: object) -> Client:
    """A superuser who is also an agent, signed in, whose client enforces CSRF like a browser."""
    admin_user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])  # type: ignore[attr-defined]
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_every_url_refuses_a_post_without_a_csrf_token(staff_agent: Client, site: object):
    patterns = _patterns(get_resolver())
    assert len(patterns) > 150
    exempt_seen = set()
    for route, pattern in patterns:
        name = _view_name(pattern)
        if getattr(pattern.callback, "csrf_exempt", False):
            assert name in EXEMPT, f"{route} ({name}) is csrf_exempt without a listed reason"
            exempt_seen.add(name)
            continue
        response = staff_agent.post("/" + route, {"post": "yes", "action": "delete_selected"})
        assert response.status_code == 403, (route, name, response.status_code)
        assert b"CSRF verification failed" in response.content, route
    assert exempt_seen == set(EXEMPT)


@pytest.mark.django_db
def test_the_same_post_with_the_token_gets_past_the_check(staff_agent: Client):
    staff_agent.get(reverse("admin:index"))
    token = staff_agent.cookies["csrftoken"].value
    response = staff_agent.post(
        reverse("admin:knowledge_preview"), {"text": "**hi**", "csrfmiddlewaretoken": token}
    )
    assert (response.status_code, response.content) == (200, b"<p><strong>hi</strong></p>\n")


@pytest.mark.django_db
def test_the_exempt_widget_session_ignores_a_signed_in_users_cookie(staff_agent: Client, site):
    url = reverse("chat:widget-session", args=[site.public_key])
    foreign = staff_agent.post(
        url, "{}", content_type="application/json", headers={"origin": "https://evil.example"}
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "origin_not_allowed")
    # Without an Origin header (a form posted by a non-browser) it is refused the same way.
    assert staff_agent.post(url, "{}", content_type="application/json").status_code == 403
    allowed = staff_agent.post(
        url, "{}", content_type="application/json", headers={"origin": SITE_ORIGIN}
    )
    assert allowed.status_code == 200
    # The token names a new visitor: nothing of the admin's session is carried over.
    assert "sessionid" not in allowed.cookies
    assert "csrftoken" not in allowed.cookies
