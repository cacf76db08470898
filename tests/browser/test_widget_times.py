"""The times shown under the widget's messages, in Chromium against the real server."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from playwright.sync_api import expect

from apps.chat.models import Conversation, Message
from apps.chat.services import message_create
from tests.browser.conftest import wait_until
from tests.browser.test_widget import send, widget

pytestmark = [pytest.mark.browser]

CLOCK = re.compile(r"^\d{1,2}:\d{2}\s[AP]M$")  # today: the time alone


@pytest.mark.parametrize(
    "browser_context_args",
    [{"locale": "en-US", "timezone_id": "UTC", "viewport": {"width": 1280, "height": 800}}],
)
def test_a_time_under_each_run_of_one_authors_messages_with_the_date_before_today(
    page, live_app, demo_site, answer
):
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "Where is my parcel?")
    question = widget(page, ".msg[data-seq='1']")
    reply = widget(page, ".msg[data-seq='2']")
    expect(reply.locator(".bubble")).to_have_text("Parcels ship in 48 hours.")
    expect(question.locator("time")).to_have_text(CLOCK)
    expect(reply.locator("time")).to_have_text(CLOCK)
    expect(widget(page, ".msg.bot").first.locator("time")).to_have_count(0)  # the greeting

    # The bot says more at once: one run, its time under the last message only.
    conversation = Conversation.objects.get()
    live_app.call(
        message_create, conversation_id=conversation.pk, author_kind="bot", text="It left today."
    )
    later = widget(page, ".msg[data-seq='3']")
    expect(later.locator("time")).to_have_text(CLOCK)
    expect(reply.locator("time")).to_have_count(0)
    # Under the bubble (and its thumbs): the time is outside the message's text.
    expect(reply.locator(".rate")).to_be_visible()

    # Asked and answered on an earlier day: more than a few minutes before the last message,
    # so that answer ends a run of its own, and both show their date.
    for seq, minute in [(1, 5), (2, 6)]:
        Message.objects.filter(seq=seq).update(
            created_at=dt.datetime(2025, 11, 20, 9, minute, tzinfo=dt.UTC)
        )
    page.reload()
    expect(question.locator("time")).to_have_text(re.compile(r"^Nov 20, 2025, 9:05\sAM$"))
    expect(reply.locator("time")).to_have_text(re.compile(r"^Nov 20, 2025, 9:06\sAM$"))
    expect(reply.locator("time")).to_have_attribute("datetime", "2025-11-20T09:06:00+00:00")
    expect(later.locator("time")).to_have_text(CLOCK)
    # The tooltip stays, with the whole date and time.
    expect(reply.locator(".bubble")).to_have_attribute("title", re.compile(r"11/20/2025.*9:06"))


@pytest.mark.parametrize(
    "browser_context_args", [{"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}]
)
def test_times_follow_the_widgets_language_and_the_visitors_time_zone(page, live_app, demo_site):
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="打开在线客服").click()
    wait_until(lambda: Conversation.objects.exists())
    live_app.call(
        message_create,
        conversation_id=Conversation.objects.get().pk,
        author_kind="bot",
        text="包裹已发出。",
    )
    stamp = widget(page, ".msg[data-seq='1'] time")
    expect(stamp).to_have_text(re.compile(r"^\d{1,2}:\d{2}$"))
    Message.objects.filter(seq=1).update(
        created_at=dt.datetime(2025, 11, 20, 1, 5, tzinfo=dt.UTC)  # 09:05 in Beijing
    )
    page.reload()
    expect(stamp).to_have_text("2025年11月20日 9:05")


def bot_messages_at(live_app, *moments: dt.datetime) -> None:
    """Have the bot say one message at each moment, seq 1, 2 … (the page then reloads them)."""
    wait_until(lambda: Conversation.objects.exists())
    conversation = Conversation.objects.get()
    for seq, moment in enumerate(moments, start=1):
        live_app.call(
            message_create, conversation_id=conversation.pk, author_kind="bot", text=f"Note {seq}."
        )
        Message.objects.filter(conversation=conversation, seq=seq).update(created_at=moment)


@pytest.mark.parametrize(
    "browser_context_args", [{"locale": "en-US", "timezone_id": "America/New_York"}]
)
def test_times_before_today_say_yesterday_and_roll_over_at_midnight(page, live_app, demo_site):
    new_york = zoneinfo.ZoneInfo("America/New_York")
    page.clock.install(time=dt.datetime(2026, 3, 10, 23, 59, tzinfo=new_york))
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    bot_messages_at(
        live_app,
        dt.datetime(2026, 3, 8, 12, 0, tzinfo=new_york),
        dt.datetime(2026, 3, 9, 21, 0, tzinfo=new_york),
        dt.datetime(2026, 3, 10, 23, 56, tzinfo=new_york),
        dt.datetime(2026, 3, 10, 23, 58, tzinfo=new_york),  # one run with the one before
    )
    page.reload()  # the conversation restored the next day, and the day after
    expect(widget(page, ".msg[data-seq='4'] time")).to_be_visible()
    expect(widget(page, ".msg time")).to_have_text(
        [
            re.compile(r"^Mar 8, 12:00\sPM$"),
            re.compile(r"^Yesterday 9:00\sPM$"),
            re.compile(r"^11:58\sPM$"),
        ]
    )

    # Midnight passes with the panel open: what was today is yesterday now, and so on.
    page.clock.fast_forward("02:00")
    expect(widget(page, ".msg time")).to_have_text(
        [
            re.compile(r"^Mar 8, 12:00\sPM$"),
            re.compile(r"^Mar 9, 9:00\sPM$"),
            re.compile(r"^Yesterday 11:58\sPM$"),
        ]
    )

    # The bot goes on just past midnight, two minutes later: the new day ends the run, so the
    # 11:58 PM message keeps its time (and its day) rather than hiding under 12:00 AM's.
    conversation = Conversation.objects.get()
    live_app.call(
        message_create, conversation_id=conversation.pk, author_kind="bot", text="Note 5."
    )
    Message.objects.filter(seq=5).update(created_at=dt.datetime(2026, 3, 11, 0, 0, tzinfo=new_york))
    page.reload()
    expect(widget(page, ".msg[data-seq='5'] time")).to_have_text(re.compile(r"^12:00\sAM$"))
    expect(widget(page, ".msg[data-seq='4'] time")).to_have_text(
        re.compile(r"^Yesterday 11:58\sPM$")
    )
    expect(widget(page, ".msg[data-seq='3'] time")).to_have_count(0)


@pytest.mark.parametrize(
    "browser_context_args", [{"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}]
)
def test_yesterday_is_said_in_the_widgets_language(page, live_app, demo_site):
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    page.clock.install(time=dt.datetime(2026, 3, 10, 23, 59, tzinfo=shanghai))
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="打开在线客服").click()
    bot_messages_at(live_app, dt.datetime(2026, 3, 9, 23, 58, tzinfo=shanghai))
    page.reload()
    stamp = widget(page, ".msg[data-seq='1'] time")
    expect(stamp).to_have_text("昨天 23:58")
    page.clock.fast_forward("02:00")
    expect(stamp).to_have_text("3月9日 23:58")
