"""The widget's side of handoff and ratings, in Chromium against the real server and services."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.analytics.models import AnswerFeedback, CsatResponse
from apps.bot.answer import AnswerEvent, AnswerFinal
from apps.chat.models import Conversation, Message
from apps.handoff.mail import reply_emails_send_due
from apps.handoff.models import AgentSession, Team, Ticket
from apps.handoff.services import (
    handoff_request,
    ticket_claim,
    ticket_leave_message,
    ticket_reply,
    ticket_solve,
)
from apps.handoff.services.presence import agent_session_open
from apps.sites.models import BusinessHours
from tests.browser.conftest import LiveServer, wait_until
from tests.browser.test_widget import PHONE, send, widget
from tests.conftest import agent_create

pytestmark = [pytest.mark.browser]

XSS = "<img src=x onerror=window.__pwned=1>"


def open_chat(page, live_app: LiveServer) -> None:
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    expect(widget(page, ".state")).to_have_text("Virtual assistant")


def inert(page) -> dict[str, Any]:
    """What in the widget could run script: elements, handler attributes, and the canary."""
    return page.evaluate(
        """() => { const root = document.querySelector('csbot-widget').shadowRoot;
        return {
            dangerous: root.querySelectorAll('img, script, iframe, object, embed').length,
            handlers: [...root.querySelectorAll('*')].flatMap(el => [...el.attributes])
                .filter(a => a.name.startsWith('on')).length,
            pwned: window.__pwned ?? null,
        } }"""
    )


@pytest.fixture
def support(demo_site) -> Team:
    return Team.objects.create(site=demo_site, name="Support")


@pytest.fixture
def mei(support: Team) -> Any:
    """An agent of the demo site's Support team (offline until ``online``)."""
    return agent_create("mei", team=support)


def online(live_app: LiveServer, agent: Any) -> None:
    """Give the agent a live console session, as opening the console does."""
    live_app.call(agent_session_open, user=agent, channel_name=f"test.console.{agent.pk}")


def left_message_filled(page, live_app: LiveServer, text: str):
    """Nobody is online: the leave-a-message form, filled in for li@example.com, not sent."""
    open_chat(page, live_app)
    page.get_by_role("button", name="Talk to a human").click()
    form = page.get_by_role("form", name="Leave us a message")
    form.get_by_role("textbox", name="Email").fill("li@example.com")
    form.get_by_role("textbox", name="Your message").fill(text)
    return form


def the_conversation() -> Conversation:
    wait_until(lambda: Conversation.objects.exists())
    return Conversation.objects.order_by("-pk").first()


def the_ticket() -> Ticket:
    wait_until(lambda: Ticket.objects.exists())
    return Ticket.objects.get()


# --- talking to a human ------------------------------------------------------------------------


def test_human_button_hands_over_then_an_agent_solves_and_the_visitor_rates(
    page, live_app, demo_site, support, mei, answer
):
    support.name = f"Support {XSS} *VIP*"  # an admin-typed name ends up in a system message
    support.save()
    online(live_app, mei)
    open_chat(page, live_app)
    human = page.get_by_role("button", name="Talk to a human")
    human.click()

    expect(widget(page, ".state")).to_have_text("Waiting for an agent…")
    expect(widget(page, ".msg.system .bubble")).to_have_text(["An agent will join shortly."])
    expect(human).to_be_hidden()
    assert the_conversation().status == Conversation.Status.WAITING
    ticket = the_ticket()
    assert ticket.reason == Ticket.Reason.CUSTOMER_REQUEST

    live_app.call(ticket_claim, ticket_id=ticket.pk, agent=mei)
    expect(widget(page, ".state")).to_have_text("Chatting with an agent")
    # Shown as it is: neither markup nor markdown.
    expect(widget(page, ".msg.system .bubble").last).to_have_text(
        f"Mei from Support {XSS} *VIP* joined the conversation."
    )
    live_app.call(ticket_reply, ticket_id=ticket.pk, agent=mei, text=f"Hello {XSS} **there**")
    expect(widget(page, ".msg.agent .bubble")).to_have_text(f"Hello {XSS} there")
    expect(widget(page, ".msg.agent .name")).to_have_text("Mei")
    expect(widget(page, ".msg.agent .rate")).to_have_count(0)  # only the bot's answers are rated
    assert inert(page) == {"dangerous": 0, "handlers": 0, "pwned": None}

    live_app.call(ticket_solve, ticket_id=ticket.pk, agent=mei)
    expect(widget(page, ".state")).to_have_text("Conversation closed")
    expect(widget(page, ".msg.system .bubble").last).to_have_text(
        "This conversation has been closed. Send a message to start a new one."
    )
    expect(human).to_be_visible()  # a closed conversation may ask again (a new one starts)
    rating = page.get_by_role("group", name="How would you rate the help you received?")
    expect(rating).to_be_visible()
    # The card shrank the log; the end of the conversation is still in view above it.
    expect(widget(page, ".msg.system").last).to_be_in_viewport()
    expect(widget(page, ".msg.agent").last).to_be_in_viewport()
    page.get_by_role("button", name="Submit rating").click()
    expect(widget(page, ".notice .err")).to_have_text("Please choose a rating from 1 to 5.")
    # A radio group: arrows move between the five ratings.
    expect(page.get_by_role("radio", name="1 – Very poor")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="4 – Good")).to_be_checked()
    page.get_by_role("textbox", name="Comment (optional)").fill("Quick and kind")
    page.get_by_role("button", name="Submit rating").click()
    expect(widget(page, ".notice .done")).to_have_text("Thank you for your rating!")
    response = CsatResponse.objects.get()
    assert (response.ticket_id, response.rating, response.comment) == (
        ticket.pk,
        4,
        "Quick and kind",
    )


def test_asking_while_offline_keeps_the_button_quiet_until_connected(page, live_app, demo_site):
    refuse = {"on": True}
    page.route_web_socket(
        re.compile(r"/ws/chat/"),
        lambda ws: ws.close(code=1012) if refuse["on"] else ws.connect_to_server(),
    )
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    human = page.get_by_role("button", name="Talk to a human")
    expect(human).to_have_attribute("aria-disabled", "true")
    human.click(force=True)  # nothing to send it on: nothing happens
    refuse["on"] = False
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(human).to_have_attribute("aria-disabled", "false")
    assert not Ticket.objects.exists()


# --- nobody there: leave a message -------------------------------------------------------------


def test_nobody_online_opens_the_form_and_the_left_message_opens_a_ticket_once(
    page, live_app, demo_site, mei, answer
):
    lossy = {"on": False}

    def route_socket(ws) -> None:
        if lossy["on"]:
            ws.close(code=1012)  # the network stays down
            return
        server = ws.connect_to_server()

        def to_page(message: str) -> None:
            if '"leave_message.ack"' in message and lossy["on"]:
                # Stored, but the ack is lost with the connection.
                ws.close(code=1012)
                server.close()
                return
            ws.send(message)

        server.on_message(to_page)

    page.route_web_socket(re.compile(r"/ws/chat/"), route_socket)
    open_chat(page, live_app)
    page.get_by_role("button", name="Talk to a human").click()

    form = page.get_by_role("form", name="Leave us a message")
    expect(form).to_be_visible()
    expect(widget(page, ".msg.system .bubble")).to_have_text(
        ["No agent is available right now. Leave a message and we will get back to you."]
    )
    name = form.get_by_role("textbox", name="Name (optional)")
    expect(name).to_be_focused()
    assert the_conversation().status == Conversation.Status.BOT

    name.fill("Li Lei")
    text = form.get_by_role("textbox", name="Your message")
    text.fill("My lamp arrived broken. <b>Please</b> call me.")
    form.get_by_role("button", name="Send message").click()
    email = form.get_by_role("textbox", name="Email")
    expect(widget(page, "#lf-err")).to_have_text("Please enter your email address so we can reply.")
    expect(email).to_be_focused()
    expect(email).to_have_attribute("aria-invalid", "true")
    email.fill("li@example")
    page.keyboard.press("Enter")
    expect(widget(page, "#lf-err")).to_have_text(
        "Please enter a valid email address, like name@example.com."
    )
    assert not Ticket.objects.exists()

    lossy["on"] = True
    email.fill("li@example.com")
    page.keyboard.press("Enter")
    expect(form).to_be_hidden()
    left = widget(page, ".msg.visitor").last
    expect(left.locator(".bubble")).to_have_text("My lamp arrived broken. <b>Please</b> call me.")
    wait_until(lambda: Ticket.objects.exists())
    # The ack was lost: the widget holds the message until the server confirms it.
    expect(widget(page, ".state")).to_have_text("Reconnecting…")
    expect(left.locator(".meta")).to_have_text("Sending…")
    lossy["on"] = False
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the network is back

    thanks = (
        "Thank you, we received your message. We will reply here and by email to li@example.com."
    )
    expect(widget(page, ".msg.system .bubble").last).to_have_text(thanks)
    expect(widget(page, ".msg.visitor.pending")).to_have_count(0)
    expect(widget(page, ".msg.visitor")).to_have_count(1)
    page.reload()  # nothing is left in the outbox to send again, and the form stays closed
    expect(widget(page, ".msg.system .bubble").last).to_have_text(thanks)
    expect(widget(page, ".msg.visitor")).to_have_count(1)
    expect(page.get_by_role("form", name="Leave us a message")).to_have_count(0)
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.contact_name, ticket.contact_email) == (
        Ticket.Channel.MESSAGE,
        "Li Lei",
        "li@example.com",
    )
    visitor_texts = Message.objects.filter(author_kind="visitor").values_list("text", flat=True)
    assert list(visitor_texts) == ["My lamp arrived broken. <b>Please</b> call me."]


def agents_gone() -> None:
    """Every console went away without closing (their worker died)."""
    AgentSession.objects.all().delete()


def test_a_waiting_visitor_whose_agents_went_offline_gets_the_form_after_a_reload(
    page, live_app, demo_site, mei, answer
):
    online(live_app, mei)
    open_chat(page, live_app)
    human = page.get_by_role("button", name="Talk to a human")
    human.click()
    expect(widget(page, ".state")).to_have_text("Waiting for an agent…")
    ticket = the_ticket()
    live_app.call(agents_gone)

    page.reload()  # the panel stays open
    form = page.get_by_role("form", name="Leave us a message")
    expect(form).to_be_visible()
    # The widget asked, not the visitor: the focus stays where it was.
    expect(form.get_by_role("textbox", name="Name (optional)")).not_to_be_focused()
    expect(widget(page, ".state")).to_have_text("Virtual assistant")
    expect(widget(page, ".msg.system .bubble").last).to_have_text(
        "No agent is available right now. Leave a message and we will get back to you."
    )
    form.get_by_role("textbox", name="Email").fill("li@example.com")
    form.get_by_role("textbox", name="Your message").fill("Where is my order 1234?")
    form.get_by_role("button", name="Send message").click()
    expect(form).to_be_hidden()
    wait_until(lambda: Ticket.objects.get().channel == Ticket.Channel.MESSAGE)
    assert Ticket.objects.get().pk == ticket.pk  # the same ticket, still in the queue
    assert Ticket.objects.get().status == Ticket.Status.NEW


def test_refused_left_message_comes_back_to_the_form_with_the_reason(
    page, live_app, demo_site, mei, answer, settings
):
    form = left_message_filled(page, live_app, "Please call me back.")
    settings.CSBOT_MESSAGES_PER_MINUTE = 1  # the request above used the minute's allowance
    form.get_by_role("button", name="Send message").click()

    expect(form).to_be_visible()
    expect(widget(page, "#lf-err")).to_have_text(
        "You are sending messages too quickly. Wait a moment, then retry."
    )
    expect(form.get_by_role("textbox", name="Your message")).to_have_value("Please call me back.")
    expect(widget(page, ".msg.visitor")).to_have_count(0)
    settings.CSBOT_MESSAGES_PER_MINUTE = 5
    form.get_by_role("button", name="Send message").click()
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["Please call me back."])
    expect(form).to_be_hidden()
    wait_until(lambda: Ticket.objects.filter(contact_email="li@example.com").exists())


@pytest.mark.parametrize(
    "browser_context_args", [{"locale": "zh-CN", "timezone_id": "America/New_York"}]
)
def test_outside_hours_the_form_says_when_the_team_is_back_in_the_visitors_time(
    page, live_app, demo_site, mei
):
    # Open only tomorrow (in the site's zone, Shanghai) 09:00-18:00: closed now, whatever the time.
    site_zone = ZoneInfo(demo_site.time_zone)
    tomorrow = timezone.now().astimezone(site_zone).date() + dt.timedelta(days=1)
    BusinessHours.objects.create(
        site=demo_site, weekday=tomorrow.weekday(), opens=dt.time(9), closes=dt.time(18)
    )
    opens = dt.datetime.combine(tomorrow, dt.time(9), tzinfo=site_zone)
    local = opens.astimezone(ZoneInfo("America/New_York"))
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="打开在线客服").click()
    page.get_by_role("button", name="转人工").click()

    form = page.get_by_role("form", name="给我们留言")
    expect(form).to_be_visible()
    hint = widget(page, ".notice .hint")
    expect(hint).to_contain_text("人工客服将于")
    expect(hint).to_contain_text(f"{local.month}月{local.day}日")
    expect(hint).to_contain_text(f"{local:%H:%M}")
    expect(hint).to_contain_text("我们会在这里并通过邮件回复您。")
    # The visitor reads this in Chinese: the system message follows their language.
    expect(widget(page, ".msg.system .bubble")).to_have_text(
        ["当前不在人工客服工作时间。请留言，我们会尽快回复您。"]
    )


# --- closed conversations ----------------------------------------------------------------------


def test_returning_visitor_sees_how_it_ended_and_the_next_message_starts_afresh(
    context, page, live_app, demo_site, mei, answer
):
    open_chat(page, live_app)
    send(page, "Where is my order?")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    page.close()  # the visitor leaves; an agent answers and solves meanwhile
    conversation = the_conversation()
    online(live_app, mei)
    outcome = live_app.call(
        handoff_request, conversation_id=conversation.pk, reason="missing_knowledge"
    )
    live_app.call(ticket_claim, ticket_id=outcome.ticket_id, agent=mei)
    live_app.call(
        ticket_reply, ticket_id=outcome.ticket_id, agent=mei, text="It left our store today."
    )
    live_app.call(ticket_solve, ticket_id=outcome.ticket_id, agent=mei)

    back = context.new_page()
    back.goto(live_app.url + "/")
    back.get_by_role("button", name="Open chat").click()
    expect(widget(back, ".state")).to_have_text("Conversation closed")
    expect(widget(back, ".msg.agent .bubble")).to_have_text("It left our store today.")
    expect(back.get_by_role("textbox", name="Message", exact=True)).to_have_attribute(
        "placeholder", "Start a new conversation…"
    )
    # Away when it was solved: asked to rate it now (until they do, or two days pass).
    expect(back.get_by_role("group", name="How would you rate")).to_be_visible()
    back.get_by_role("button", name="Dismiss").click()
    expect(back.get_by_role("group", name="How would you rate")).to_have_count(0)

    send(back, "Can I change the address?")
    expect(widget(back, ".divider")).to_have_text("New conversation")
    expect(widget(back, ".list .msg.visitor[data-seq='1'] .bubble")).to_have_text(
        "Can I change the address?"
    )
    expect(widget(back, ".list .msg.bot[data-seq='2'] .bubble")).to_have_text(
        "Parcels ship in 48 hours."
    )
    expect(widget(back, ".state")).to_have_text("Virtual assistant")
    # The old conversation stays readable above the divider.
    expect(widget(back, ".earlier .msg.visitor .bubble")).to_have_text(["Where is my order?"])
    expect(widget(back, ".earlier .msg.agent .bubble")).to_have_text("It left our store today.")
    assert Conversation.objects.count() == 2
    new = Conversation.objects.order_by("-pk").first()
    assert list(new.messages.order_by("seq").values_list("seq", "author_kind")) == [
        (1, "visitor"),
        (2, "bot"),
    ]
    # Resuming after a reconnect asks from the new conversation's seq, not the old one's.
    back.reload()
    expect(widget(back, ".list .msg")).to_have_count(3)  # greeting, question, answer
    expect(widget(back, ".earlier")).to_be_empty()


# --- ratings of answers ------------------------------------------------------------------------


def test_thumbs_on_an_answer_reach_the_dashboard_and_can_be_changed(
    page, live_app, demo_site, answer
):
    open_chat(page, live_app)
    expect(widget(page, ".msg.bot .rate")).to_have_count(0)  # not under the greeting
    send(page, "How fast do you ship?")
    reply = widget(page, ".msg.bot[data-seq='2']")
    expect(reply.locator(".bubble")).to_have_text("Parcels ship in 48 hours.")
    expect(widget(page, ".msg.visitor .rate")).to_have_count(0)
    answer_id = Message.objects.get(author_kind="bot").pk

    rate = reply.get_by_role("group", name="Was this answer helpful?")
    rate.get_by_role("button", name="Helpful", exact=True).click()
    expect(rate.get_by_role("status")).to_have_text("Thanks for your feedback.")
    expect(rate.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert AnswerFeedback.objects.get(message_id=answer_id).value == "up"

    down = rate.get_by_role("button", name="Not helpful")
    down.click()
    why = rate.get_by_role("textbox", name="What went wrong? (optional)")
    expect(why).to_be_focused()
    wait_until(lambda: AnswerFeedback.objects.get(message_id=answer_id).value == "down")
    page.keyboard.type("It did not say which countries.")
    page.keyboard.press("Enter")
    expect(why).to_have_count(0)
    expect(down).to_be_focused()
    wait_until(lambda: AnswerFeedback.objects.get(message_id=answer_id).comment != "")
    feedback = AnswerFeedback.objects.get()
    assert (feedback.value, feedback.comment) == ("down", "It did not say which countries.")

    page.reload()  # the server does not replay votes; the widget remembers its own
    rate = widget(page, ".msg.bot[data-seq='2'] .rate")
    expect(rate.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    expect(rate.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "false"
    )
    assert AnswerFeedback.objects.count() == 1


async def whole_answer(*, conversation_id: int, question_id: int) -> AsyncIterator[AnswerEvent]:
    """An answer that is not streamed (a cached one): only its final text."""
    yield AnswerFinal(text="Returns are **free** for 30 days.", citations=[], complete=True)


def test_an_answer_that_was_not_streamed_shows_whole_and_can_be_rated(
    page, live_app, demo_site, settings
):
    settings.CSBOT_ANSWERER = f"{__name__}.whole_answer"
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(frame)))
    open_chat(page, live_app)
    send(page, "Are returns free?")
    reply = widget(page, ".msg.bot[data-seq='2']")
    expect(reply.locator(".bubble")).to_have_text("Returns are free for 30 days.")
    expect(reply.locator(".bubble strong")).to_have_text("free")
    expect(widget(page, ".typing")).to_be_hidden()
    expect(widget(page, "[aria-live=polite]")).to_have_text(
        "Assistant: Returns are free for 30 days."
    )
    assert not [frame for frame in frames if '"message.delta"' in frame]
    reply.get_by_role("button", name="Not helpful").click()
    wait_until(lambda: AnswerFeedback.objects.filter(value="down").exists())


# --- the composer's limit ----------------------------------------------------------------------


def test_composer_counts_near_the_limit_and_refuses_what_the_server_would(
    page, live_app, demo_site, answer
):
    open_chat(page, live_app)
    box = page.get_by_role("textbox", name="Message", exact=True)
    counter = widget(page, "#count")
    box.fill("a" * 1500)
    expect(counter).to_be_hidden()
    box.fill("长" * 1700)
    expect(counter).to_have_text("1700 / 2000")
    expect(box).to_have_accessible_description("1700 / 2000")
    box.fill("长" * 2001)
    expect(counter).to_have_text("2001 / 2000 · 1 too many")
    send_button = page.get_by_role("button", name="Send", exact=True)
    expect(send_button).to_be_disabled()
    box.press("Enter")
    expect(widget(page, ".alert")).to_have_text("This message is too long. Please shorten it.")
    # An emoji is one character to the server, though two UTF-16 units in the page.
    box.fill("🙂" * 2000)
    expect(counter).to_have_text("2000 / 2000")
    # Within the characters but not the frame: control characters are escaped six bytes each.
    box.fill("\u0001" * 1500 + "x")
    box.press("Enter")
    expect(widget(page, ".alert")).to_have_text("This message is too long. Please shorten it.")
    expect(box).not_to_be_empty()
    box.fill("长" * 2000)
    send_button.click()
    expect(widget(page, ".msg.visitor:not(.pending) .bubble")).to_have_text("长" * 2000)
    assert Message.objects.get(author_kind="visitor").text == "长" * 2000


# --- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize("browser_context_args", [PHONE])
def test_header_button_and_form_fit_a_360_px_phone(page, live_app, demo_site, mei):
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").tap()
    human = page.get_by_role("button", name="Talk to a human")
    close = page.get_by_role("button", name="Close chat")
    state = widget(page, ".state")
    for part in (human, close, state):
        box = part.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 360
    assert state.bounding_box()["x"] + state.bounding_box()["width"] <= human.bounding_box()["x"]
    # The status beside the button is whole, not cut short with an ellipsis.
    assert state.evaluate("el => el.scrollWidth <= el.clientWidth")
    human.tap()
    form = page.get_by_role("form", name="Leave us a message")
    expect(form).to_be_visible()
    for field in ("Name (optional)", "Email", "Your message"):
        control = form.get_by_role("textbox", name=field)
        assert control.evaluate("el => getComputedStyle(el).fontSize") == "16px"
        assert control.bounding_box()["x"] + control.bounding_box()["width"] <= 360
    submit = form.get_by_role("button", name="Send message")
    submit.scroll_into_view_if_needed()
    expect(submit).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_role("button", name="Dismiss").tap()
    expect(form).to_have_count(0)


def test_a_reply_read_in_the_open_widget_is_not_emailed_one_missed_is(
    page, live_app, demo_site, mei, answer, mailoutbox
):
    form = left_message_filled(page, live_app, "Where is my order?")
    form.get_by_role("button", name="Send message").click()
    expect(form).to_be_hidden()
    ticket = the_ticket()
    online(live_app, mei)
    live_app.call(ticket_claim, ticket_id=ticket.pk, agent=mei)

    # Read on screen: the widget tells the server, and the email has nothing to carry.
    read = live_app.call(ticket_reply, ticket_id=ticket.pk, agent=mei, text="It left today.")
    expect(widget(page, ".msg.agent .bubble")).to_have_text(["It left today."])
    wait_until(lambda: the_conversation().visitor_read_seq == read.seq)

    # In a background tab the open panel shows nothing: read only once the tab is back.
    tab_is = (
        "state => Object.defineProperty(document, 'visibilityState', "
        "{value: state, configurable: true})"
    )
    page.evaluate(tab_is, "hidden")
    behind = live_app.call(ticket_reply, ticket_id=ticket.pk, agent=mei, text="Still there?")
    expect(widget(page, ".msg.agent .bubble").last).to_have_text("Still there?")
    page.wait_for_timeout(500)  # time enough for a read frame the widget should not send
    assert the_conversation().visitor_read_seq == read.seq
    page.evaluate(tab_is, "visible")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    wait_until(lambda: the_conversation().visitor_read_seq == behind.seq)

    # The panel closed: the next reply waits as unread, and is what the email carries.
    widget(page, ".close").click()
    missed = live_app.call(ticket_reply, ticket_id=ticket.pk, agent=mei, text="Track it: SF123.")
    expect(page.get_by_role("button", name="Open chat (1 unread message)")).to_be_visible()
    assert the_conversation().visitor_read_seq == behind.seq
    due = timezone.now() + dt.timedelta(minutes=10)
    assert live_app.call(reply_emails_send_due, now=due) == 1
    [email] = mailoutbox
    assert email.body.startswith(f"{missed.text}\n\n--\n")


def test_the_form_starts_with_the_contact_an_earlier_left_message_gave(
    page, live_app, demo_site, mei, answer
):
    open_chat(page, live_app)
    conversation = the_conversation()
    live_app.call(
        ticket_leave_message,
        conversation_id=conversation.pk,
        client_id="c-left-0001",
        name="Li Lei",
        email="li@example.com",
        text="My lamp arrived broken.",
    )
    Ticket.objects.update(status=Ticket.Status.SOLVED)  # answered since
    page.reload()
    page.get_by_role("button", name="Talk to a human").click()
    form = page.get_by_role("form", name="Leave us a message")
    expect(form.get_by_role("textbox", name="Name (optional)")).to_have_value("Li Lei")
    expect(form.get_by_role("textbox", name="Email")).to_have_value("li@example.com")
    expect(form.get_by_role("textbox", name="Your message")).to_have_value("")


def test_right_to_left_text_runs_right_to_left_in_the_bubble_and_the_composer(
    page, live_app, demo_site, answer
):
    open_chat(page, live_app)
    composer = page.get_by_role("textbox", name="Message", exact=True)
    composer.fill("مرحبا، أين طلبي؟")
    expect(composer).to_have_attribute("dir", "auto")
    expect(composer).to_have_css("direction", "rtl")
    page.get_by_role("button", name="Send", exact=True).click()
    arabic = widget(page, ".msg.visitor .bubble").last
    expect(arabic).to_have_text("مرحبا، أين طلبي؟")
    # Re-rendered when the server acknowledges it: polled, not read once.
    expect(arabic).to_have_css("direction", "rtl")
    # An English message beside it keeps its own direction.
    send(page, "Where is my order?")
    english = widget(page, ".msg.visitor .bubble").last
    expect(english).to_have_text("Where is my order?")
    expect(english).to_have_css("direction", "ltr")
