"""Under ASGI a file is streamed from an async iterator: exact bytes, its headers, no warning."""

from __future__ import annotations

import os
import warnings
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.chat.attachments import attachment_url
from apps.chat.models import Attachment
from tests.chat import files
from tests.chat.asgi_http import asgi_request, body_done
from tests.chat.test_attachments import media, no_bot, upload
from tests.handoff.conftest import _no_connection_left_in_the_sync_thread

__all__ = ["_no_connection_left_in_the_sync_thread", "media", "no_bot"]

pytestmark = pytest.mark.django_db(transaction=True)


def _get_request():
    """``receive`` for a GET: an empty body, then the client waits for the answer."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return await body_done()
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


@pytest.mark.parametrize(
    ("content", "name", "content_type", "disposition"),
    [
        # Several of the view's 64 KiB blocks, and not a whole number of them.
        (files.png() + os.urandom(200_001), "parcel.png", "image/png", "inline"),
        (files.PDF + os.urandom(70_000), "invoice.pdf", "application/pdf", "attachment"),
    ],
)
async def test_a_file_is_served_whole_with_its_headers_and_no_warning(
    visitor, no_bot, content, name, content_type, disposition
):
    await sync_to_async(upload)(Client(), visitor, content=content, name=name)
    url = urlsplit(attachment_url((await Attachment.objects.aget()).pk))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, body = await asgi_request(
            "GET", url.path, _get_request(), query=url.query, headers={}
        )
    assert [str(warning.message) for warning in caught] == []
    assert status == 200
    assert body == content
    assert headers["content-length"] == str(len(content))
    assert headers["content-type"] == content_type
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["content-disposition"] == f'{disposition}; filename="{name}"'
