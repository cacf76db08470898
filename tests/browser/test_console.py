"""The takeover in two Chromium pages: a visitor in the widget, an agent in the console."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.handoff.models import Team
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

    # The ticket says why it came in the agent's language, not as stored ("keyword: 转人工").
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "转人工")
    expect(console.locator("#ticket-list li").first).to_contain_text("要求人工")
    console.keyboard.press("j")
    expect(console.locator("#ticket-sub")).to_contain_text("关键词：转人工")
    expect(console.locator("#history")).to_contain_text("关键词：转人工")
    context.close()
    assert errors == []


def test_an_agent_takes_over_from_the_bot_replies_and_hands_back(page, console, live_app, answer):
    # The visitor's browser speaks English: system messages follow the visitor's language.
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "我的台灯坏了，转人工")
    expect(widget(page, ".msg.system .bubble").last).to_have_text("An agent will join shortly.")

    # The ticket arrives in the console's queue live; j opens it, c claims it.
    ticket = console.locator("#ticket-list li").first
    expect(ticket).to_contain_text("我的台灯坏了，转人工")
    expect(ticket).to_contain_text("Asked for a human")
    console.keyboard.press("j")
    expect(console.locator("#transcript")).to_contain_text("我的台灯坏了，转人工")
    console.keyboard.press("c")
    expect(console.locator("#claim-banner")).to_be_hidden()
    expect(widget(page, ".msg.system .bubble").last).to_have_text(
        "Mei from Support joined the conversation."
    )

    # After claiming, the reply box has the focus.
    console.keyboard.type("您好，我是 Mei，马上为您处理。")
    console.keyboard.press("Enter")
    agent_reply = widget(page, ".msg.agent .bubble").last
    expect(agent_reply).to_have_text("您好，我是 Mei，马上为您处理。")
    expect(widget(page, ".msg.agent .name").last).to_have_text("Mei")

    send(page, "好的，谢谢")
    expect(console.locator("#transcript .msg.visitor").last).to_contain_text("好的，谢谢")

    console.keyboard.press("Escape")
    console.keyboard.press("h")
    expect(console.locator("#confirm-dialog")).to_be_visible()
    console.keyboard.press("Enter")
    expect(widget(page, ".msg.system .bubble").last).to_have_text(
        "You are chatting with the assistant again."
    )

    answer.tokens = ["Returns ", "are ", "free ", "for ", "30 days."]
    send(page, "退货政策是什么？")
    expect(widget(page, ".msg.bot .bubble").last).to_contain_text("Returns are free for 30 days.")
    expect(console.locator("#transcript .msg.bot").last).to_contain_text(
        "Returns are free for 30 days."
    )
