"""A site that requires an email before the first message: the server holds to it too."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from apps.chat.models import Message, Visitor
from apps.chat.services import visitor_identify
from apps.sites.models import Site
from tests.chat.test_consumer import connected, frames_until

pytestmark = [pytest.mark.django_db(transaction=True)]


def ask(ws, client_id: str):
    return ws.send_json_to({"type": "message.send", "client_id": client_id, "text": "Refunds?"})


@pytest.fixture
def requiring(site):
    Site.objects.filter(pk=site.pk).update(prechat=Site.Prechat.REQUIRE)
    site.refresh_from_db()
    return site


async def test_a_message_before_the_email_is_refused_and_not_stored(requiring, visitor):
    ws, _ = await connected(requiring, visitor)
    await ask(ws, "c-before-01")
    refused = await ws.receive_json_from()
    assert (refused["type"], refused["code"], refused["client_id"]) == (
        "error",
        "email_required",
        "c-before-01",
    )
    assert "email" in refused["message"]
    assert not await Message.objects.filter(client_id="c-before-01").aexists()
    await ws.send_json_to({"type": "identify", "name": "", "email": "li@example.com"})
    assert await ws.receive_json_from() == {"type": "identified"}
    await ask(ws, "c-before-01")
    ack = (await frames_until(ws, "message.ack"))[-1]
    assert ack["duplicate"] is False
    assert await Message.objects.filter(client_id="c-before-01").acount() == 1
    await ws.disconnect()


async def test_an_email_given_in_another_tab_counts(requiring, visitor):
    ws, _ = await connected(requiring, visitor)
    await ask(ws, "c-tab-00001")
    assert (await ws.receive_json_from())["code"] == "email_required"
    stored = await Visitor.objects.aget(pk=visitor.pk)
    await sync_to_async(visitor_identify)(
        visitor=stored, name="Li", email="li@example.com", external_id=""
    )
    await ask(ws, "c-tab-00001")
    assert (await frames_until(ws, "message.ack"))[-1]["client_id"] == "c-tab-00001"
    await ws.disconnect()


@pytest.mark.parametrize("setting", [Site.Prechat.OFF, Site.Prechat.ASK])
async def test_sites_that_do_not_require_it_take_the_message(site, visitor, setting):
    await Site.objects.filter(pk=site.pk).aupdate(prechat=setting)
    ws, _ = await connected(site, visitor)
    await ask(ws, "c-nomail-01")
    assert (await frames_until(ws, "message.ack"))[-1]["client_id"] == "c-nomail-01"
    await ws.disconnect()
