"""The admin's delete of a site, a visitor or a conversation ends the chat on it as erasure
does: once it commits, the visitor's sockets close and the tickets leave the agents' consoles."""

from __future__ import annotations

import contextlib

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.test import Client

from apps.chat.models import Conversation, Visitor
from apps.chat.privacy import rows_delete
from apps.handoff.models import Ticket
from tests.handoff.conftest import english
from tests.handoff.sockets import console_socket, frame_of, visitor_socket
from tests.handoff.test_transitions import claimed_ticket, closed_with

pytestmark = [pytest.mark.django_db(transaction=True)]

__all__ = ["english"]  # a fixture borrowed from the handoff tests


def admin_delete(admin_user, *, model: str, pk: int, via: str) -> int:
    """Delete one row as an admin does: the change page's button or *delete selected*."""
    client = Client()
    client.force_login(admin_user)
    app = "sites" if model == "site" else "chat"
    if via == "page":
        response = client.post(f"/admin/{app}/{model}/{pk}/delete/", {"post": "yes"})
    else:
        response = client.post(
            f"/admin/{app}/{model}/",
            {"action": "delete_selected", ACTION_CHECKBOX_NAME: [pk], "post": "yes"},
        )
    return response.status_code


@pytest.mark.parametrize("via", ["page", "action"])
@pytest.mark.parametrize(
    ("model", "closed"),
    # 4401 when the visitor went too (the widget starts afresh as a new visitor); 4410 when
    # only the conversation did (the widget reconnects as the same visitor).
    [("site", 4401), ("visitor", 4401), ("conversation", 4410)],
)
async def test_the_admins_delete_closes_the_visitors_socket_and_drops_the_ticket(
    english, visitor, agent, admin_user, model, closed, via
):
    console, _ = await console_socket(agent)
    widget, ready = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)
    pk = {
        "site": visitor.site_id,
        "visitor": visitor.pk,
        "conversation": ready["conversation"]["id"],
    }[model]
    assert await sync_to_async(admin_delete)(admin_user, model=model, pk=pk, via=via) == 302
    assert await closed_with(widget) == closed
    assert await frame_of(console, "ticket.removed") == {
        "type": "ticket.removed",
        "ticket_id": ticket["id"],
    }
    await console.disconnect()


async def test_a_visitor_whose_conversation_was_deleted_goes_on_in_a_new_one(
    english, visitor, admin_user
):
    widget, ready = await visitor_socket(visitor)
    deleted = ready["conversation"]["id"]
    await sync_to_async(admin_delete)(admin_user, model="conversation", pk=deleted, via="page")
    assert await closed_with(widget) == 4410
    # The same token still names them.
    widget, again = await visitor_socket(visitor)
    assert again["visitor_id"] == ready["visitor_id"]
    assert again["conversation"]["id"] != deleted
    assert again["conversation"]["last_seq"] == 0
    await widget.disconnect()


class RolledBack(Exception):
    pass


def delete_rolled_back(visitor: Visitor) -> None:
    with contextlib.suppress(RolledBack), transaction.atomic():
        rows_delete(rows=Visitor.objects.filter(pk=visitor.pk))
        raise RolledBack


async def test_a_delete_that_rolls_back_leaves_the_chat_open(english, visitor, agent):
    console, _ = await console_socket(agent)
    widget, _ = await visitor_socket(visitor)
    ticket = await claimed_ticket(widget, console)
    await sync_to_async(delete_rolled_back)(visitor)
    assert await Conversation.objects.filter(visitor=visitor).aexists()
    assert await Ticket.objects.filter(pk=ticket["id"]).aexists()
    assert await widget.receive_nothing(timeout=0.05)
    assert await console.receive_nothing(timeout=0.05)
    await widget.send_json_to({"type": "ping"})
    assert await widget.receive_json_from(timeout=5) == {"type": "pong"}
    await widget.disconnect()
    await console.disconnect()
