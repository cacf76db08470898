"""Under ASGI an upload's body is refused past the limit before Django has received it."""

from __future__ import annotations

import json

import pytest

from tests.chat.asgi_http import asgi_request, body_done
from tests.conftest import SITE_ORIGIN

LIMIT = 100_000
# The limit on the body: the file's, and room for the form around it (FORM_OVERHEAD).
BODY_LIMIT = LIMIT + 64 * 1024
CHUNK = 16 * 1024
WIDGET = "/api/widget/pk_unknown/attachments"
CONSOLE = "/api/console/tickets/1/attachments"


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.CSBOT_ATTACHMENT_MAX_BYTES = LIMIT


# What an undeclared (chunked) body sends: bounded, so a failing test does not fill the disk.
UNDECLARED = 4 * BODY_LIMIT


class Body:
    """A client sending ``total`` bytes in chunks; counts what was read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.read = 0
        self.finished = False

    async def receive(self) -> dict:
        if self.finished:
            return await body_done()
        left = min(CHUNK, self.total - self.read)
        self.read += left
        more = self.read < self.total
        self.finished = not more
        return {"type": "http.request", "body": b"x" * left, "more_body": more}


async def _call(path: str, body: Body, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    return await asgi_request("POST", path, body.receive, headers=headers)


def _is_too_large(status: int, content: bytes) -> bool:
    error = json.loads(content)["error"]
    return status == 413 and error == {
        "code": "file_too_large",
        "message": f"a file is at most {LIMIT} bytes",
    }


async def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read():
    body = Body(BODY_LIMIT + 1)
    status, headers, content = await _call(
        WIDGET,
        body,
        {
            "content-length": str(BODY_LIMIT + 1),
            "content-type": "multipart/form-data; boundary=x",
            "origin": SITE_ORIGIN,
        },
    )
    assert _is_too_large(status, content)
    assert body.read == 0
    # The widget's page reads the refusal: the same CORS headers as the view's answers.
    assert headers["access-control-allow-origin"] == SITE_ORIGIN
    assert headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert headers["access-control-allow-headers"] == "Content-Type"
    assert headers["vary"] == "Origin"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(content))
    # The body is left unread: the connection cannot carry another request.
    assert headers["connection"] == "close"


async def test_an_undeclared_body_is_read_no_further_than_the_limit():
    body = Body(UNDECLARED)
    status, headers, content = await _call(
        WIDGET, body, {"content-type": "multipart/form-data; boundary=x", "origin": SITE_ORIGIN}
    )
    assert _is_too_large(status, content)
    assert BODY_LIMIT < body.read <= BODY_LIMIT + CHUNK
    assert headers["access-control-allow-origin"] == SITE_ORIGIN


async def test_the_consoles_upload_is_refused_the_same_way_without_cors():
    body = Body(UNDECLARED)
    status, headers, content = await _call(
        CONSOLE, body, {"content-type": "multipart/form-data; boundary=x", "origin": SITE_ORIGIN}
    )
    assert _is_too_large(status, content)
    assert body.read <= BODY_LIMIT + CHUNK
    assert "access-control-allow-origin" not in headers


@pytest.mark.django_db(transaction=True)
async def test_a_body_within_the_limit_reaches_the_view():
    body = Body(BODY_LIMIT)
    status, _, content = await _call(
        WIDGET,
        body,
        {"content-length": str(BODY_LIMIT), "content-type": "multipart/form-data; boundary=x"},
    )
    assert body.read == BODY_LIMIT
    assert status == 404
    assert json.loads(content)["error"]["code"] == "unknown_site"


@pytest.mark.django_db(transaction=True)
async def test_other_routes_are_not_limited():
    body = Body(BODY_LIMIT + CHUNK)
    status, _, _ = await _call(
        "/api/widget/pk_unknown/session", body, {"content-type": "application/json"}
    )
    assert body.read == BODY_LIMIT + CHUNK
    assert status != 413
