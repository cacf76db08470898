"""The takeover in two Chromium pages: a visitor in the widget, an agent in the console."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from apps.chat.models import Message, Visitor
from apps.chat.privacy import visitor_erase
from apps.chat.services import conversation_open, message_create, visitor_create
from apps.handoff.models import Team, Ticket
from apps.handoff.selectors import handoff_possible
from apps.handoff.services import handoff_request, ticket_claim
from tests.browser.conftest import _loopback_only
from tests.conftest import agent_create
from tests.handoff.sockets import session_cookie

pytestmark = [pytest.mark.browser]


def widget(page, selector: str):
    return page.locator(f"csbot-widget {selector}")


def send(page, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()


def console_open(browser, live_app, agent, *, locale: str):
    """Open the agent's console, signed in, in a browser that prefers ``locale``."""
    name, value = session_cookie(agent).split("=", 1)
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 850})
    context.set_default_timeout(10_000)
    context.route("**/*", _loopback_only)
    context.add_cookies([{"name": name, "value": value, "url": live_app.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_app.url + "/console/")
    return context, page, errors


@pytest.fixture
def console(browser, live_app, demo_site):
    """Mei's console, signed in, live."""
    mei = agent_create("mei", team=Team.objects.create(site=demo_site, name="Support"))
    context, page, errors = console_open(browser, live_app, mei, locale="en-US")
    expect(page.locator("#connection")).to_have_text("Live")
    yield page
    context.close()
    assert errors == []


def test_the_console_scripts_speak_the_agents_language(page, browser, live_app, demo_site):
    mei = agent_create("mei", team=Team.objects.create(site=demo_site, name="客服组"))
    context, console, errors = console_open(browser, live_app, mei, locale="zh-CN")

    # Set by console.js once the socket opens: the script's own strings, from the catalog.
    expect(console.locator("#connection")).to_have_text("已连接")
    expect(console).to_have_title("坐席工作台 · csbot")
    # The ready frame lists her online: the handoff below can find her.
    expect(console.locator("#agent-list")).to_contain_text("在线")

    # The ticket says why it came in the agent's language, not as stored ("keyword: 转人工").
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "转人工")
    expect(console.locator("#ticket-list li").first).to_contain_text("要求人工")
    # The visitor's language (what they wrote, though their browser's is English) by name, not
    # its code.
    expect(console.locator("#ticket-list li").first.locator(".badge")).to_have_text(
        ["要求人工", "中文"]
    )
    console.keyboard.press("j")
    expect(console.locator("#ticket-sub")).to_contain_text("关键词：转人工")
    expect(console.locator("#history")).to_contain_text("关键词：转人工")

    # The switch in the top bar overrides the browser's preference, and the ticket stays open.
    console.locator("#language").select_option("en")
    expect(console.locator("#connection")).to_have_text("Live")
    expect(console.locator("#ticket-sub")).to_contain_text("keyword: 转人工")
    # Its times too, though the browser's would be written 24-hour.
    expect(console.locator("#transcript .msg .meta").first).to_contain_text(
        re.compile(r"\d{2}:\d{2} [AP]M")
    )
    context.close()
    assert errors == []


def test_an_agent_takes_over_from_the_bot_replies_and_hands_back(page, console, live_app, answer):
    # The visitor's browser speaks English but they write Chinese: the widget's own words are
    # English, the conversation's system messages follow what the visitor wrote.
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "我的台灯坏了，转人工")
    expect(widget(page, ".msg.system .bubble").last).to_have_text("正在为您转接人工客服，请稍候。")

    # The ticket arrives in the console's queue live; j opens it, c claims it.
    ticket = console.locator("#ticket-list li").first
    expect(ticket).to_contain_text("我的台灯坏了，转人工")
    expect(ticket).to_contain_text("Asked for a human")
    console.keyboard.press("j")
    expect(console.locator("#transcript")).to_contain_text("我的台灯坏了，转人工")
    expect(console.locator("#claim-text")).to_have_text("Just came in, waiting for an agent.")
    console.keyboard.press("c")
    expect(console.locator("#claim-banner")).to_be_hidden()
    # The page the visitor is on, as the widget's hello said.
    expect(console.locator("#visitor-fields a")).to_have_attribute("href", live_app.url + "/")
    expect(widget(page, ".msg.system .bubble").last).to_have_text("客服 Mei（Support）已加入对话。")

    # After claiming, the reply box has the focus.
    console.keyboard.type("您好，我是 Mei，马上为您处理。")
    console.keyboard.press("Enter")
    agent_reply = widget(page, ".msg.agent .bubble").last
    expect(agent_reply).to_have_text("您好，我是 Mei，马上为您处理。")
    expect(widget(page, ".msg.agent .name").last).to_have_text("Mei")
    # On the visitor's screen (the chat is open): the console says the reply was read.
    expect(console.locator("#transcript .msg.agent .meta").last).to_have_text(
        re.compile(r" · read$")
    )

    send(page, "好的，谢谢")
    expect(console.locator("#transcript .msg.visitor").last).to_contain_text("好的，谢谢")
    # A reply that arrives with the chat closed is read when the visitor opens it.
    widget(page, ".close").click()
    console.locator("#composer-text").fill("不客气！")
    console.locator("#composer-text").press("Enter")
    expect(page.get_by_role("button", name="Open chat (1 unread message)")).to_be_visible()
    last_meta = console.locator("#transcript .msg.agent .meta").last
    expect(last_meta).to_have_text(re.compile(r"^Mei · [^·]+$"))
    page.get_by_role("button", name="Open chat (1 unread message)").click()
    expect(last_meta).to_have_text(re.compile(r" · read$"))

    console.keyboard.press("Escape")
    console.keyboard.press("h")
    expect(console.locator("#confirm-dialog")).to_be_visible()
    console.keyboard.press("Enter")
    expect(widget(page, ".msg.system .bubble").last).to_have_text("您现在继续与智能助手对话。")

    answer.tokens = ["Returns ", "are ", "free ", "for ", "30 days."]
    send(page, "退货政策是什么？")
    expect(widget(page, ".msg.bot .bubble").last).to_contain_text("Returns are free for 30 days.")
    expect(console.locator("#transcript .msg.bot").last).to_contain_text(
        "Returns are free for 30 days."
    )


def claimed_ticket(live_app, site, agent, question: str, *, claim: bool = True) -> Ticket:
    """A visitor's question handed to ``agent``, claimed: it is in their "Mine" tab (or, without
    ``claim``, waiting in the queue)."""

    def hand_over() -> int:
        conversation = conversation_open(visitor=visitor_create(site=site))
        message_create(conversation_id=conversation.pk, author_kind="visitor", text=question)
        outcome = handoff_request(conversation_id=conversation.pk, reason="customer_request")
        assert outcome.ticket_id is not None, outcome
        if claim:
            ticket_claim(ticket_id=outcome.ticket_id, agent=agent)
        return outcome.ticket_id

    # The console page counts the team online only once its socket is up; on a loaded machine
    # that can come after the page has loaded, and a handoff before it would find nobody.
    deadline = time.monotonic() + 10
    while not live_app.call(handoff_possible, site_id=site.pk, at=timezone.now()):
        assert time.monotonic() < deadline, "no agent of the site came online"
        time.sleep(0.05)
    return Ticket.objects.get(pk=live_app.call(hand_over))


def test_a_reply_sent_into_a_silently_dead_socket_comes_back_to_the_box(
    console, live_app, demo_site
):
    mei = demo_site.teams.get().members.get()
    ticket = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    # The first socket after the reload goes silent both ways, as over a dropped network that
    # the browser has not noticed; the next one works.
    silenced = {"on": False}
    sockets = []

    def relay(route) -> None:
        server = route.connect_to_server()
        first = not sockets
        sockets.append(route)
        route.on_message(lambda m: None if first and silenced["on"] else server.send(m))
        server.on_message(lambda m: None if first and silenced["on"] else route.send(m))

    console.route_web_socket(re.compile(r"/ws/console/"), relay)
    console.reload()
    expect(console.locator("#connection")).to_have_text("Live")
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    box = console.locator("#composer-text")
    box.fill("Your refund is on its way.")
    silenced["on"] = True
    box.press("Enter")
    expect(box).to_have_value("")

    # No answer within 10 s: the socket is given up, the reply is back, the agent is told.
    expect(console.locator("#toasts")).to_contain_text(
        "The connection dropped before your message was confirmed", timeout=20_000
    )
    expect(box).to_have_value("Your refund is on its way.")
    expect(console.locator("#connection")).to_have_text("Live")
    assert len(sockets) == 2
    assert not Message.objects.filter(text="Your refund is on its way.").exists()
    box.press("Enter")
    expect(console.locator("#transcript .msg.agent")).to_contain_text("Your refund is on its way.")
    assert Message.objects.filter(text="Your refund is on its way.").count() == 1


def test_the_queue_is_reached_and_worked_from_the_keyboard(console, live_app, demo_site):
    mei = demo_site.teams.get().members.get()
    first = claimed_ticket(
        live_app, demo_site, mei, "Is https://shop.example.com/orders/42. right?"
    )
    second = claimed_ticket(live_app, demo_site, mei, "مرحبا، أين طلبي؟")
    console.locator('.tabs [data-filter="mine"]').click()
    # After the queue's tabs, Tab reaches the tickets; Enter opens the one focused.
    console.locator('.tabs [data-filter="team"]').focus()
    console.keyboard.press("Tab")
    expect(console.locator(f'[data-ticket-id="{first.pk}"]')).to_be_focused()
    console.keyboard.press("Enter")
    link = console.locator("#transcript .msg.visitor .body a")
    expect(link).to_have_attribute("href", "https://shop.example.com/orders/42")
    expect(link).to_have_text("https://shop.example.com/orders/42")
    # Re-rendered on opening, the list keeps the focus; an arrow moves it with the selection.
    expect(console.locator(f'[data-ticket-id="{first.pk}"]')).to_be_focused()
    console.keyboard.press("ArrowDown")
    expect(console.locator(f'[data-ticket-id="{second.pk}"]')).to_be_focused()
    expect(console.locator("#transcript .msg.visitor .body")).to_have_attribute("dir", "auto")
    # The pending button keeps its shortcut; an arrow on a button does not switch tickets.
    pending = console.locator('[data-action="pending"]')
    expect(pending.locator("kbd")).to_have_text("p")
    pending.focus()
    console.keyboard.press("ArrowUp")
    expect(console.locator(f'[data-ticket-id="{second.pk}"]')).to_have_attribute(
        "aria-current", "true"
    )

    # What arrives is announced once, not the whole rebuilt transcript.
    expect(console.locator("#transcript")).not_to_have_attribute("aria-live", "polite")
    live_app.call(
        message_create,
        conversation_id=second.conversation_id,
        author_kind="visitor",
        text="Are you there?",
    )
    expect(console.locator("#transcript-news")).to_have_text(re.compile(r": Are you there\?$"))


def test_a_draft_stays_with_its_ticket_and_survives_a_reload(console, live_app, demo_site):
    mei = demo_site.teams.get().members.get()
    # "Live" is the socket open; the ready frame lists her online, so a handoff can find her.
    expect(console.locator("#agent-list")).to_contain_text("online")
    wang = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    li = claimed_ticket(live_app, demo_site, mei, "Can I change my address?")
    console.locator('.tabs [data-filter="mine"]').click()
    box = console.locator("#composer-text")

    # A link to a ticket opens it in the console already open.
    console.evaluate(f"location.hash = '#ticket-{wang.pk}'")
    expect(console.locator("#transcript")).to_contain_text("Where is my refund?")
    box.fill("Your refund of ¥299 is approved, Mr Wang.")
    console.locator(f'[data-ticket-id="{li.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Can I change my address?")
    # Another visitor's reply must not sit ready to send to this one.
    expect(box).to_have_value("")
    box.fill("Yes: which address?")

    console.locator(f'[data-ticket-id="{wang.pk}"]').click()
    expect(box).to_have_value("Your refund of ¥299 is approved, Mr Wang.")
    # The address names the open ticket: a reload comes back to it, draft and all.
    console.reload()
    expect(console.locator("#transcript")).to_contain_text("Where is my refund?")
    expect(box).to_have_value("Your refund of ¥299 is approved, Mr Wang.")
    console.locator(f'[data-ticket-id="{li.pk}"]').click()
    expect(box).to_have_value("Yes: which address?")
    expect(console.locator("#transcript")).to_contain_text("Can I change my address?")
    box.press("Enter")
    expect(console.locator("#transcript .msg.agent")).to_contain_text("Yes: which address?")
    console.locator(f'[data-ticket-id="{wang.pk}"]').click()
    console.locator(f'[data-ticket-id="{li.pk}"]').click()
    expect(box).to_have_value("")

    # Erased with its visitor while open with a draft: the ticket and its draft both go.
    console.locator(f'[data-ticket-id="{wang.pk}"]').click()
    expect(box).to_have_value("Your refund of ¥299 is approved, Mr Wang.")
    live_app.call(visitor_erase, visitor=Visitor.objects.get(conversations__tickets=wang))
    expect(console.locator(f'[data-ticket-id="{wang.pk}"]')).to_have_count(0)
    # The row goes with the ticket's closing; the draft with its removal, the event after.
    console.wait_for_function(
        "() => !Object.keys(sessionStorage).filter(k => k.startsWith('csbot.console.drafts'))"
        ".map(k => sessionStorage.getItem(k)).join('').includes('Mr Wang')"
    )


def open_colleagues_ticket(console, live_app, demo_site) -> Ticket:
    """Open, from the "All open" tab, a ticket Mei's colleague Li is assigned to."""
    li = agent_create("li", team=demo_site.teams.get())
    expect(console.locator("#agent-list")).to_contain_text("online")
    ticket = claimed_ticket(live_app, demo_site, li, "Where is my parcel?")
    console.locator('.tabs [data-filter="team"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Where is my parcel?")
    return ticket


def test_a_colleagues_ticket_is_theirs_to_end_hand_back_or_pass_on(console, live_app, demo_site):
    open_colleagues_ticket(console, live_app, demo_site)
    # The server would refuse them (not_assignee): the console says why instead.
    for action in ("hand_back", "transfer", "pending", "solve", "close"):
        expect(console.locator(f'[data-action="{action}"]')).to_be_disabled()
    expect(console.locator("#actions-hint")).to_have_text("Li is handling this ticket.")
    expect(console.locator('[data-action="faq"]')).to_be_enabled()


def test_a_superuser_ending_a_colleagues_ticket_is_told_whose_it_is(console, live_app, demo_site):
    User.objects.filter(username="mei").update(is_superuser=True)
    console.reload()  # ready says who the console's agent is
    ticket = open_colleagues_ticket(console, live_app, demo_site)
    expect(console.locator("#actions-hint")).to_be_hidden()

    console.locator('[data-action="solve"]').click()
    expect(console.locator("#confirm-text")).to_have_text(
        f"Li is handling this ticket. Solve ticket #{ticket.pk}? The conversation closes; "
        "the visitor's next message starts a new one."
    )
    console.keyboard.press("Escape")  # thought better of it
    expect(console.locator("#confirm-dialog")).to_be_hidden()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN


def test_unread_counts_survive_a_reload_until_the_ticket_is_opened(console, live_app, demo_site):
    mei = demo_site.teams.get().members.get()
    expect(console.locator("#agent-list")).to_contain_text("online")
    ticket = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    console.locator('.tabs [data-filter="mine"]').click()
    row = console.locator(f'[data-ticket-id="{ticket.pk}"]')
    expect(row).to_be_visible()
    live_app.call(
        message_create,
        conversation_id=ticket.conversation_id,
        author_kind="visitor",
        text="Hello? Anyone?",
    )
    expect(row.locator(".badge.unread")).to_have_text("1 new")

    console.reload()
    expect(row.locator(".badge.unread")).to_have_text("1 new")
    row.click()
    expect(console.locator("#transcript")).to_contain_text("Hello? Anyone?")
    expect(row.locator(".badge.unread")).to_have_count(0)
    # Back without the ticket open: the server counts from what was on screen.
    console.goto(live_app.url + "/console/")
    console.locator('.tabs [data-filter="mine"]').click()
    expect(row).to_contain_text("Where is my refund?")
    expect(row.locator(".badge.unread")).to_have_count(0)


def test_a_reply_over_the_limit_is_counted_and_kept_not_sent(console, live_app, demo_site):
    mei = demo_site.teams.get().members.get()
    expect(console.locator("#agent-list")).to_contain_text("online")
    ticket = claimed_ticket(live_app, demo_site, mei, "Can you explain everything?")
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    box = console.locator("#composer-text")
    long_reply = "很长的回复。" * 400  # 2,400 characters; a reply may have 2,000
    box.fill(long_reply)
    counter = console.locator("#composer-count")
    expect(counter).to_have_text("2400 / 2000 characters")
    box.press("Enter")
    expect(console.locator(".toast").last).to_have_text("Too long to send: shorten it first.")
    expect(box).to_have_value(long_reply)
    # A note may be longer: the same text fits there.
    console.locator('.composer-tabs [data-mode="note"]').click()
    expect(counter).to_be_hidden()
    assert not Message.objects.filter(author_kind="agent").exists()


def test_a_colleagues_ticket_once_opened_does_not_alert_this_console(console, live_app, demo_site):
    team = demo_site.teams.get()
    mei = team.members.get()
    li = agent_create("li", team=team)
    theirs = claimed_ticket(live_app, demo_site, li, "Where is my parcel?")
    mine = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    console.locator('.tabs [data-filter="team"]').click()
    console.locator(f'[data-ticket-id="{theirs.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Where is my parcel?")
    console.locator(f'[data-ticket-id="{mine.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Where is my refund?")

    for ticket, text in ((theirs, "Hello?"), (mine, "Anyone?")):
        live_app.call(
            message_create, conversation_id=ticket.conversation_id, author_kind="visitor", text=text
        )
    # Mine is open, so it counts nothing either; the colleague's stays quiet here.
    expect(console.locator("#transcript")).to_contain_text("Anyone?")
    expect(console.locator(f'[data-ticket-id="{theirs.pk}"] .badge.unread')).to_have_count(0)


def test_an_offline_colleague_cannot_be_picked_for_a_transfer(console, live_app, demo_site):
    team = demo_site.teams.get()
    mei = team.members.get()
    agent_create("li", team=team)  # no console open: offline
    ticket = claimed_ticket(live_app, demo_site, mei, "Where is my refund?")
    console.reload()  # the ready frame lists Li
    console.locator('.tabs [data-filter="mine"]').click()
    console.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    expect(console.locator("#transcript")).to_contain_text("Where is my refund?")
    console.keyboard.press("t")
    li = console.locator("#transfer-agent option", has_text="Li")
    expect(li).to_have_text(re.compile(r"\(offline\)$"))
    expect(li).to_be_disabled()
