"""A visitor who starts waiting hears their place in the queue and the wait measured there."""

from __future__ import annotations

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.chat.models import Conversation, ConversationEvent
from apps.chat.services import conversation_open, visitor_create
from apps.handoff.models import Team, Ticket
from apps.handoff.waits import queue_position, queue_words, typical_wait, wait_words
from tests.handoff.sockets import console_socket, frames_until, system_texts, visitor_socket
from tests.handoff.test_stranded import waiting

pytestmark = [pytest.mark.django_db(transaction=True)]

NOW = timezone.now()


def ticket_of(
    team: Team,
    *,
    came_in_ago: dt.timedelta = dt.timedelta(hours=1),
    status: str = Conversation.Status.AGENT,
    channel: str = Ticket.Channel.CHAT,
) -> Ticket:
    """A ticket of ``team`` that came in ``came_in_ago``, its conversation in ``status``."""
    conversation = conversation_open(visitor=visitor_create(site=team.site))
    Conversation.objects.filter(pk=conversation.pk).update(status=status)
    ticket = Ticket.objects.create(
        site=team.site,
        conversation=conversation,
        visitor=conversation.visitor,
        reason=Ticket.Reason.CUSTOMER_REQUEST,
        channel=channel,
        team=team,
    )
    Ticket.objects.filter(pk=ticket.pk).update(created_at=NOW - came_in_ago)
    ticket.refresh_from_db()
    return ticket


def taken_after(ticket: Ticket, wait: dt.timedelta, *, via: str = "claim") -> None:
    event = ConversationEvent.objects.create(
        conversation=ticket.conversation,
        kind="handoff.assigned",
        data={"agent": 1, "via": via, "ticket": ticket.pk},
    )
    ConversationEvent.objects.filter(pk=event.pk).update(created_at=ticket.created_at + wait)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def test_the_typical_wait_is_the_median_of_the_team_s_live_chats_of_the_week(team, rival_agent):
    for wait in (1, 2, 3, 4, 10):
        taken_after(ticket_of(team), minutes(wait))
    # None of these is a live chat of the team taken from the queue this week.
    taken_after(ticket_of(team, came_in_ago=dt.timedelta(days=8)), minutes(100))
    taken_after(ticket_of(team, channel=Ticket.Channel.MESSAGE), minutes(100))
    taken_after(ticket_of(Team.objects.get(name="Billing")), minutes(100))
    taken_after(ticket_of(team), minutes(100), via="transfer")
    # A ticket taken again later (transferred back to a queue) counts its first take only.
    again = ticket_of(team)
    taken_after(again, minutes(3))
    taken_after(again, minutes(200))

    wait = typical_wait(site_id=team.site_id, team_id=team.pk, at=NOW)
    # 1, 2, 3, 3, 4, 10 minutes.
    assert wait == minutes(3)


def test_no_typical_wait_without_five_tickets_taken(team):
    for wait in (1, 2, 3, 4):
        taken_after(ticket_of(team), minutes(wait))
    ticket_of(team)  # not taken yet: no measurement
    assert typical_wait(site_id=team.site_id, team_id=team.pk, at=NOW) is None


def test_the_place_counts_the_team_s_visitors_still_waiting_ahead(team, rival_agent):
    waiting = Conversation.Status.WAITING
    ticket_of(team, came_in_ago=minutes(9), status=waiting)
    ticket_of(team, came_in_ago=minutes(8), status=waiting)
    # Not ahead: a left message, another team's visitor, one already taken, one after.
    ticket_of(team, came_in_ago=minutes(7), status=Conversation.Status.BOT)
    ticket_of(Team.objects.get(name="Billing"), came_in_ago=minutes(7), status=waiting)
    taken = ticket_of(team, came_in_ago=minutes(7), status=waiting)
    Ticket.objects.filter(pk=taken.pk).update(status=Ticket.Status.OPEN)
    mine = ticket_of(team, came_in_ago=minutes(5), status=waiting)
    ticket_of(team, came_in_ago=minutes(1), status=waiting)
    assert queue_position(ticket=mine, team_id=team.pk) == 3


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [
        (20, "about a minute", "约 1 分钟"),
        (89, "about a minute", "约 1 分钟"),
        (90, "about 2 minutes", "约 2 分钟"),
        (150, "about 3 minutes", "约 3 分钟"),
        (9.4 * 60, "about 9 minutes", "约 9 分钟"),
        (12 * 60, "about 10 minutes", "约 10 分钟"),
        (12.5 * 60, "about 15 minutes", "约 15 分钟"),
        (57 * 60, "about 55 minutes", "约 55 分钟"),
        (58 * 60, "about an hour", "约 1 小时"),
        (100 * 60, "about 2 hours", "约 2 小时"),
    ],
)
def test_a_wait_is_said_the_way_people_round_it(seconds, english, chinese):
    wait = dt.timedelta(seconds=seconds)
    assert (wait_words(wait, "en"), wait_words(wait, "zh-hans")) == (english, chinese)


def test_the_place_and_wait_read_as_sentences():
    assert queue_words(position=3, wait=minutes(4), language="en") == (
        "You are number 3 in the queue. The wait is usually about 4 minutes."
    )
    assert queue_words(position=3, wait=minutes(4), language="zh-hans") == (
        "您目前排在第 3 位。通常需要等待约 4 分钟。"
    )
    assert queue_words(position=2, wait=None, language="en") == "You are number 2 in the queue."


WAITING_LINES = {"An agent will join shortly.", "正在为您转接人工客服，请稍候。"}


def _after_the_waiting_line(frame: dict) -> bool:
    return (
        frame["type"] == "message.new"
        and frame["message"]["author"] == "system"
        and frame["message"]["text"] not in WAITING_LINES
    )


async def queued(visitor) -> list[str]:
    """The visitor asks for a person; the system lines up to their place in the queue."""
    widget, _ = await visitor_socket(visitor)
    await widget.send_json_to({"type": "handoff.request"})
    frames = await frames_until(widget, _after_the_waiting_line)
    await widget.disconnect()
    return system_texts(frames)


def history(team: Team, waits: list[float]) -> None:
    for wait in waits:
        taken_after(ticket_of(team), minutes(wait))


async def others_waiting(site, count: int) -> list:
    widgets = []
    for _ in range(count):
        widget, _ = await visitor_socket(await database_sync_to_async(visitor_create)(site=site))
        await waiting(widget)
        widgets.append(widget)
    return widgets


async def test_a_visitor_third_in_the_queue_hears_it_and_the_measured_wait(
    english, visitor, agent, team
):
    await database_sync_to_async(history)(team, [3, 4, 4, 5, 20])
    console, _ = await console_socket(agent)
    ahead = await others_waiting(english, 2)
    texts = await queued(visitor)
    assert texts[-2:] == [
        "An agent will join shortly.",
        "You are number 3 in the queue. The wait is usually about 4 minutes.",
    ]
    for widget in ahead:
        await widget.disconnect()
    await console.disconnect()


async def test_without_enough_history_no_wait_is_given_only_the_place(
    english, visitor, agent, team
):
    await database_sync_to_async(history)(team, [3, 4, 4, 5])
    console, _ = await console_socket(agent)
    ahead = await others_waiting(english, 1)
    texts = await queued(visitor)
    assert texts[-1] == "You are number 2 in the queue."
    for widget in ahead:
        await widget.disconnect()
    await console.disconnect()


async def test_in_chinese_the_place_and_wait_are_in_chinese(site, visitor, agent, team):
    await database_sync_to_async(history)(team, [1, 1, 1, 1, 1])
    console, _ = await console_socket(agent)
    texts = await queued(visitor)
    assert texts[-2:] == [
        "正在为您转接人工客服，请稍候。",
        "您目前排在第 1 位。通常需要等待约 1 分钟。",
    ]
    await console.disconnect()


def test_with_an_even_number_taken_the_typical_wait_is_the_mean_of_the_middle_two(team):
    for wait in (1, 2, 4, 5, 6, 30):
        taken_after(ticket_of(team), minutes(wait))
    assert typical_wait(site_id=team.site_id, team_id=team.pk, at=NOW) == minutes(4.5)


def test_assignment_events_with_a_malformed_ticket_key_are_not_a_take_and_break_nothing(team):
    for wait in (1, 2, 3, 4, 5):
        taken_after(ticket_of(team), minutes(wait))
    odd = ticket_of(team)
    for data in ({"agent": 1, "via": "claim", "ticket": "x"}, {"agent": 1, "via": "claim"}):
        ConversationEvent.objects.create(
            conversation=odd.conversation, kind="handoff.assigned", data=data
        )
    assert typical_wait(site_id=team.site_id, team_id=team.pk, at=NOW) == minutes(3)
