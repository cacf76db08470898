"""Under ASGI a file is streamed from an async iterator: exact bytes, its headers, no warning."""

from __future__ import annotations

import asyncio
import os
import warnings
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.chat.attachments import attachment_url
from apps.chat.models import Attachment
from csbot.asgi import application
from tests.chat import files
from tests.chat.test_attachments import media, no_bot, upload

__all__ = ["media", "no_bot"]

pytestmark = pytest.mark.django_db(transaction=True)

# Several of the view's 64 KiB blocks, and not a whole number of them.
CONTENT = files.png() + os.urandom(200_001)
PDF = files.PDF + os.urandom(70_000)


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "root_path": "",
        "query_string": parts.query.encode(),
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []
    requested = False

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # The client stays until the answer is sent.
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)
    headers = {key.decode().lower(): value.decode() for key, value in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


async def test_an_image_is_served_whole_with_its_headers_and_no_warning(visitor, no_bot):
    await sync_to_async(upload)(Client(), visitor, content=CONTENT)
    attachment = await Attachment.objects.aget()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, body = await _get(attachment_url(attachment.pk))
    assert [str(warning.message) for warning in caught] == []
    assert status == 200
    assert body == CONTENT
    assert headers["content-length"] == str(len(CONTENT))
    assert headers["content-type"] == "image/png"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["content-disposition"] == 'inline; filename="parcel.png"'


async def test_a_pdf_is_served_whole_as_a_download_and_no_warning(visitor, no_bot):
    await sync_to_async(upload)(Client(), visitor, content=PDF, name="invoice.pdf")
    attachment = await Attachment.objects.aget()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, body = await _get(attachment_url(attachment.pk))
    assert [str(warning.message) for warning in caught] == []
    assert (status, body) == (200, PDF)
    assert headers["content-length"] == str(len(PDF))
    assert headers["content-type"] == "application/pdf"
    assert headers["content-disposition"] == 'attachment; filename="invoice.pdf"'
