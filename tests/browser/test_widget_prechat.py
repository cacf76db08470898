"""The pre-chat form a site may ask for, in Chromium against the real server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.chat.models import Message, Visitor
from apps.sites.models import Site
from tests.browser.conftest import wait_until
from tests.browser.test_widget import send, widget

pytestmark = [pytest.mark.browser]


def prechat(site: Site, setting: str) -> None:
    Site.objects.filter(pk=site.pk).update(prechat=setting)


def open_chat(page, url: str, label: str = "Open chat") -> None:
    page.goto(url)
    page.get_by_role("button", name=label).click()


def test_a_required_email_is_checked_by_the_server_and_the_held_question_then_goes(
    page, live_app, demo_site, answer
):
    prechat(demo_site, Site.Prechat.REQUIRE)
    open_chat(page, live_app.url + "/")
    form = page.get_by_role("form", name="Before we start")
    name = form.get_by_role("textbox", name="Name (optional)")
    email = form.get_by_role("textbox", name="Email", exact=True)
    expect(name).to_be_focused()

    # The visitor asks first: the question waits in the composer, the form takes the focus.
    send(page, "Where is my parcel?")
    expect(name).to_be_focused()
    composer = page.get_by_role("textbox", name="Message", exact=True)
    expect(composer).to_have_value("Where is my parcel?")
    form.get_by_role("button", name="Start chat").click()
    problem = form.get_by_role("alert")
    expect(problem).to_have_text("Please enter your email address so we can reply.")
    expect(email).to_be_focused()

    name.fill("Li Wei")
    email.fill("li@nowhere")
    email.press("Enter")
    # Refused on the field it is about, in the widget's words rather than the server's.
    expect(problem).to_have_text("Please enter a valid email address, like name@example.com.")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "pf-err")
    expect(email).to_be_focused()
    assert Visitor.objects.get().email == ""
    assert not Message.objects.exists()

    email.fill("li@example.com")
    email.press("Enter")
    expect(form).to_have_count(0)
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["Where is my parcel?"])
    expect(composer).to_have_value("")
    expect(composer).to_be_focused()
    wait_until(lambda: Message.objects.filter(author_kind="visitor").exists())
    visitor = Visitor.objects.get()
    assert [visitor.name, visitor.email] == ["Li Wei", "li@example.com"]

    page.reload()
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["Where is my parcel?"])
    expect(page.get_by_role("form", name="Before we start")).to_have_count(0)


@pytest.mark.parametrize("browser_context_args", [{"locale": "zh-CN"}])
def test_a_mistyped_email_is_refused_in_the_widgets_language(page, live_app, demo_site, answer):
    prechat(demo_site, Site.Prechat.ASK)
    open_chat(page, live_app.url + "/", "打开在线客服")
    form = page.get_by_role("form", name="开始咨询前")
    email = form.get_by_role("textbox", name="邮箱（选填）")
    email.fill("li@nowhere")
    email.press("Enter")
    expect(form.get_by_role("alert")).to_have_text("请填写有效的邮箱地址，例如 name@example.com。")
    expect(email).to_be_focused()
    assert Visitor.objects.get().email == ""


@pytest.mark.parametrize("browser_context_args", [{"locale": "zh-CN"}])
def test_an_optional_form_skipped_is_not_shown_again(page, live_app, demo_site, answer):
    prechat(demo_site, Site.Prechat.ASK)
    open_chat(page, live_app.url + "/", "打开在线客服")
    form = page.get_by_role("form", name="开始咨询前")
    expect(form.get_by_role("textbox", name="邮箱（选填）")).to_be_visible()
    form.get_by_role("button", name="跳过").click()
    expect(form).to_have_count(0)
    composer = page.get_by_role("textbox", name="消息", exact=True)
    expect(composer).to_be_focused()

    page.reload()
    expect(page.get_by_role("dialog", name="Lumen & Co.")).to_be_visible()
    expect(page.get_by_role("form", name="开始咨询前")).to_have_count(0)
    composer.fill("有白色的吗？")
    composer.press("Enter")
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["有白色的吗？"])
    assert Visitor.objects.get().email == ""


def test_a_skip_does_not_answer_the_form_once_the_site_requires_an_email(
    page, live_app, demo_site, answer
):
    prechat(demo_site, Site.Prechat.ASK)
    open_chat(page, live_app.url + "/")
    page.get_by_role("form", name="Before we start").get_by_role("button", name="Skip").click()
    prechat(demo_site, Site.Prechat.REQUIRE)
    page.reload()
    send(page, "Where is my parcel?")
    form = page.get_by_role("form", name="Before we start")
    expect(form.get_by_role("textbox", name="Email", exact=True)).to_be_visible()
    expect(form.get_by_role("button", name="Skip")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value(
        "Where is my parcel?"
    )
    assert not Message.objects.exists()


def test_a_message_the_server_refuses_without_an_email_waits_while_the_form_asks(
    page, live_app, demo_site, answer
):
    # The page learnt the site's setting (none) before the site came to require an email; its
    # socket connects after.
    network = {"up": False}
    page.route_web_socket(
        re.compile(r"/ws/chat/"),
        lambda ws: ws.connect_to_server() if network["up"] else ws.close(code=1012),
    )
    open_chat(page, live_app.url + "/")
    prechat(demo_site, Site.Prechat.REQUIRE)
    network["up"] = True
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_enabled()
    send(page, "Where is my parcel?")

    failed = widget(page, ".msg.visitor.failed")
    expect(failed.locator(".meta")).to_contain_text(
        "Please enter your email address so we can reply."
    )
    form = page.get_by_role("form", name="Before we start")
    expect(form.get_by_role("textbox", name="Name (optional)")).to_be_focused()
    expect(form.get_by_role("button", name="Skip")).to_have_count(0)
    assert not Message.objects.exists()
    email = form.get_by_role("textbox", name="Email", exact=True)
    email.fill("li@example.com")
    email.press("Enter")
    expect(form).to_have_count(0)
    failed.get_by_role("button", name="Retry").click()
    expect(widget(page, ".msg.visitor.failed")).to_have_count(0)
    wait_until(lambda: Message.objects.filter(author_kind="visitor").exists())
    assert list(Message.objects.filter(author_kind="visitor").values_list("text", flat=True)) == [
        "Where is my parcel?"
    ]
    assert Visitor.objects.get().email == "li@example.com"


def test_no_form_when_the_site_asks_for_none(page, live_app, demo_site, answer):
    open_chat(page, live_app.url + "/")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_focused()
    send(page, "Where is my parcel?")
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["Where is my parcel?"])
    expect(widget(page, "form.card")).to_have_count(0)


def test_no_form_for_a_visitor_the_page_identified_by_email(page, live_app, demo_site, answer):
    prechat(demo_site, Site.Prechat.REQUIRE)
    details = "{name: 'Mei Chen', email: 'mei@example.com'}"
    page.add_init_script(f"window.csbot = {{q: [['identify', {details}]]}}")
    open_chat(page, live_app.url + "/")
    send(page, "Where is my parcel?")
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["Where is my parcel?"])
    expect(widget(page, "form.card")).to_have_count(0)
    wait_until(lambda: Visitor.objects.get().email == "mei@example.com")


def test_the_form_goes_when_the_page_identifies_the_visitor_meanwhile(
    page, live_app, demo_site, answer
):
    prechat(demo_site, Site.Prechat.REQUIRE)
    open_chat(page, live_app.url + "/")
    form = page.get_by_role("form", name="Before we start")
    send(page, "Where is my parcel?")
    expect(form).to_be_visible()
    page.evaluate("csbot.identify({email: 'mei@example.com'})")
    expect(form).to_have_count(0)
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["Where is my parcel?"])


def test_the_field_the_server_refuses_is_the_one_flagged(page, live_app, demo_site, answer):
    prechat(demo_site, Site.Prechat.ASK)
    # The page's own identify() gave an external id the server refuses (over 200 characters):
    # not the visitor's to fix, so the form's answers go without it.
    page.add_init_script(
        'window.csbot = {q: [["identify", {externalId: "u".repeat(201)}]]};'
        "window.addEventListener('unhandledrejection', (e) => e.preventDefault());"
    )
    open_chat(page, live_app.url + "/")
    form = page.get_by_role("form", name="Before we start")
    name = form.get_by_role("textbox", name="Name (optional)")
    email = form.get_by_role("textbox", name="Email (optional)")
    # A name the server refuses (a NUL character, which no database stores): the name is
    # flagged, in the widget's words, not the email.
    name.fill("Li\x00Wei")
    email.fill("li@example.com")
    email.press("Enter")
    problem = form.get_by_role("alert")
    expect(problem).to_have_text(
        "Please enter your name without special characters, in at most 200 characters."
    )
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_attribute("aria-describedby", "pf-err")
    expect(name).to_be_focused()
    expect(email).not_to_have_attribute("aria-invalid", "true")
    assert Visitor.objects.get().email == ""

    name.fill("Li Wei")
    name.press("Enter")
    expect(form).to_have_count(0)
    wait_until(lambda: Visitor.objects.get().email == "li@example.com")
    assert Visitor.objects.get().name == "Li Wei"
