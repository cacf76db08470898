"""A refused ``identify`` (or ``leave_message``) names the field it refused, for the form."""

from __future__ import annotations

import pytest

from apps.chat.models import Visitor
from tests.handoff.sockets import visitor_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "li@example"}, "email", "'email' is not an email address"),
        ({"email": "l" * 250 + "@x.cn"}, "email", "'email' is longer than 254 characters"),
        ({"name": "李" * 201}, "name", "'name' is longer than 200 characters"),
        ({"name": 7}, "name", "'name' must be a str"),
        (
            {"external_id": "u-\x007"},
            "external_id",
            "'external_id' must not contain NUL characters",
        ),
    ],
)
async def test_a_refused_identify_names_the_field_and_stores_nothing(
    visitor, fields, field, message
):
    ws, _ = await visitor_socket(visitor)
    await ws.send_json_to({"type": "identify", "name": "Li Lei", **fields})
    assert await ws.receive_json_from() == {
        "type": "error",
        "code": "bad_frame",
        "message": message,
        "field": field,
    }
    stored = await Visitor.objects.aget(pk=visitor.pk)
    assert (stored.name, stored.email, stored.external_id) == ("", "", "")
    await ws.disconnect()


async def test_a_leave_message_with_a_mistyped_email_names_it_beside_its_client_id(visitor):
    ws, _ = await visitor_socket(visitor)
    await ws.send_json_to(
        {"type": "leave_message", "client_id": "c-left-0001", "email": "li@", "text": "Call me."}
    )
    assert await ws.receive_json_from() == {
        "type": "error",
        "code": "bad_frame",
        "message": "'email' is not an email address",
        "client_id": "c-left-0001",
        "field": "email",
    }
    await ws.disconnect()


async def test_an_error_about_no_one_field_has_none(visitor):
    ws, _ = await visitor_socket(visitor)
    await ws.send_json_to({"type": "nope"})
    assert "field" not in await ws.receive_json_from()
    await ws.disconnect()
