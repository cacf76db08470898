"""The embeddable widget, driven in headless Chromium against the real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from playwright.sync_api import expect

from apps.chat import events
from apps.chat.models import Conversation, Message, Visitor
from apps.chat.privacy import visitor_erase
from apps.chat.services import message_create
from apps.core.staticfiles import widget_minify
from apps.sites.models import Language, Site
from tests.browser.answerers import RESET
from tests.browser.conftest import LiveServer, wait_until

pytestmark = [pytest.mark.browser]

PHONE = {
    "locale": "en-US",
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def widget(page, selector: str):
    """A locator inside the widget's shadow root."""
    return page.locator(f"csbot-widget {selector}")


def embed(live_app: LiveServer, site_key: str = "site_demo", *, lang: str = "") -> str:
    src = f"{live_app.url}/static/csbot/widget.js"
    forced = f' data-lang="{lang}"' if lang else ""
    return f'<script src="{src}" data-site="{site_key}"{forced} async></script>'


def send(page, text: str) -> None:
    page.get_by_role("textbox", name="Message", exact=True).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def shadow_eval(page, script: str):
    """Evaluate ``script`` as a function of the widget's shadow root."""
    return page.evaluate(f"(root => ({script}))(document.querySelector('csbot-widget').shadowRoot)")


def test_reply_streams_in_and_history_survives_a_reload(page, live_app, demo_site, answer):
    answer.tokens = ["Parcels ", "ship ", "within ", "**48 hours** ", "[1]."]
    answer.citations = [
        {"n": 1, "title": "Shipping policy", "url": "https://shop.example.com/ship"},
        # csbot's own page for an article without a source URL is relative to csbot's host.
        {"n": 2, "title": "Delivery times", "url": "/kb/help/7/"},
    ]
    answer.hold_after = 2
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    expect(widget(page, ".msg.bot .bubble").first).to_have_text(demo_site.greeting)
    send(page, "How fast do you ship?")

    reply = widget(page, ".msg.bot[data-seq='2']")
    expect(reply.locator(".bubble")).to_have_text("Parcels ship")
    expect(reply.locator(".sources")).to_have_count(0)
    answer.release.set()
    expect(reply.locator(".bubble")).to_have_text("Parcels ship within 48 hours [1].")
    expect(reply.locator(".bubble strong")).to_have_text("48 hours")
    expect(reply.locator(".sources a").first).to_have_attribute(
        "href", "https://shop.example.com/ship"
    )
    expect(reply.locator(".sources a").nth(1)).to_have_attribute(
        "href", live_app.url + "/kb/help/7/"
    )
    assert Message.objects.filter(author_kind="bot", state="complete").count() == 1

    page.reload()
    # The panel stays open across pages of the same visit, and the history is back.
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(["How fast do you ship?"])
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text(
        "Parcels ship within 48 hours [1]."
    )
    expect(page.get_by_role("dialog", name="Lumen & Co.")).to_be_visible()
    assert Visitor.objects.count() == 1


def test_typing_indicator_shows_until_the_answer_starts(page, live_app, demo_site, answer):
    answer.hold_after = 0
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "Do you have the Halo lamp in white?")
    typing = widget(page, ".typing")
    expect(typing).to_be_visible()
    answer.release.set()
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    expect(typing).to_be_hidden()


def test_answer_that_broke_off_is_shown_as_cut_off(page, live_app, demo_site, answer):
    answer.tokens = ["Our warranty covers ", "two years"]
    answer.complete = False
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "How long is the warranty?")
    reply = widget(page, ".msg.bot[data-seq='2']")
    expect(reply.locator(".meta")).to_have_text("This answer was cut off.")
    expect(reply.locator(".bubble")).to_have_text("Our warranty covers two years")


def test_regenerated_answer_replaces_the_discarded_text(page, live_app, demo_site, answer):
    answer.tokens = ["The first ", "attempt", RESET, "Second ", "attempt."]
    answer.hold_after = 2
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "Is the Aurora lamp dimmable?")
    reply = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(reply).to_have_text("The first attempt")
    page.evaluate(
        """() => { const bubble = () => document.querySelector('csbot-widget').shadowRoot
                       .querySelector(".msg.bot[data-seq='2'] .bubble");
           window.__shown = [];
           new MutationObserver(() => window.__shown.push(bubble().textContent))
               .observe(bubble().parentNode, {subtree: true, childList: true, characterData: true});
        }"""
    )
    answer.release.set()
    expect(reply).to_have_text("Second attempt.")
    shown = page.evaluate("window.__shown")
    assert shown[0] == ""  # cleared, then streamed again from the start
    assert shown[1].startswith("Second")
    assert not [text for text in shown if "first" in text and "Second" in text]


def test_second_tab_joining_mid_answer_shows_it_whole_when_done(
    context, page, live_app, demo_site, answer
):
    answer.hold_after = 2
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "How fast do you ship?")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship ")

    other = context.new_page()  # same visitor (localStorage), its own socket
    other.goto(live_app.url + "/")
    other.get_by_role("button", name="Open chat").click()
    expect(widget(other, ".msg.visitor .bubble")).to_have_text("How fast do you ship?")
    # It joined after the first deltas, which it missed: it shows the answer as far as the
    # last heartbeat stored it (pending until the first beat), never a fragment of its own.
    expect(widget(other, ".msg.bot[data-seq='2'] .bubble")).to_have_text(
        re.compile(r"^(Parcels( ship)?)?$")
    )
    answer.release.set()
    for tab in (page, other):
        expect(widget(tab, ".msg.bot[data-seq='2'] .bubble")).to_have_text(
            "Parcels ship in 48 hours."
        )


HOSTILE_CSS = """
* { all: unset !important; display: none !important; font-size: 1px !important;
    color: red !important; -webkit-text-fill-color: red !important;
    font-family: "Comic Sans MS", cursive !important; line-height: 0 !important;
    letter-spacing: 12px !important; text-transform: uppercase !important;
    visibility: hidden !important; pointer-events: none !important; cursor: none !important;
    opacity: 0 !important; position: static !important; z-index: -1 !important;
    transform: scale(0.1) !important; box-sizing: content-box !important;
    width: 3px !important; height: 3px !important; margin: 40px !important;
    padding: 40px !important; border: 9px solid lime !important; background: lime !important;
    direction: rtl !important; writing-mode: vertical-rl !important; }
*::before, *::after { content: "PWNED" !important; display: block !important; }
:root { font-size: 40px !important; --accent: red !important; --ink: red !important; }
csbot-widget, [class], div, button, textarea, form { display: none !important; }
/* The page itself must still render for anything to show at all. */
html, body { display: block !important; opacity: 1 !important; transform: none !important;
    width: auto !important; height: auto !important; position: static !important; }
"""


def test_widget_works_on_a_page_with_hostile_global_css(
    page, live_app, host_pages, demo_site, answer
):
    html = f"<!doctype html><style>{HOSTILE_CSS}</style><p>Shop</p>{embed(live_app)}"
    page.goto(host_pages.serve("/hostile", html))

    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    assert launcher.bounding_box() == {
        "x": 1280 - 20 - 56,
        "y": 800 - 20 - 56,
        "width": 56,
        "height": 56,
    }
    launcher.click()  # Playwright checks that this point really receives the click
    panel = page.get_by_role("dialog", name="Lumen & Co.")
    expect(panel).to_be_visible()
    assert panel.bounding_box()["width"] == 380
    styles = shadow_eval(
        page,
        """[root.querySelector('textarea'), root.querySelector('.title')].map(el => {
            const s = getComputedStyle(el);
            return [s.fontSize, s.color, s.fontFamily.includes('Comic'), s.visibility,
                    s.letterSpacing, s.textTransform, s.pointerEvents, s.direction,
                    s.writingMode, s.webkitTextFillColor];
        })""",
    )
    assert styles == [
        ["15px", "rgb(15, 23, 42)", False, "visible", "normal", "none", "auto", "ltr",
         "horizontal-tb", "rgb(15, 23, 42)"],
        ["16px", "rgb(255, 255, 255)", False, "visible", "normal", "none", "auto", "ltr",
         "horizontal-tb", "rgb(255, 255, 255)"],
    ]  # fmt: skip

    page.get_by_role("textbox", name="Message").press_sequentially("Do you ship abroad?")
    page.keyboard.press("Enter")
    bubble = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(bubble).to_have_text("Parcels ship in 48 hours.")
    # Retried: message.done rebuilds the bubble, and a style read from the one it replaced is "".
    expect(bubble).to_have_css("font-size", "15px")


def test_widget_works_under_a_strict_content_security_policy(
    page, live_app, host_pages, demo_site, answer
):
    # What a careful site owner allows: the csbot host for the script and the socket, no inline.
    policy = (
        f"default-src 'none'; script-src {live_app.url}; style-src 'self'; "
        f"connect-src {live_app.url} ws://127.0.0.1:{live_app.port}"
    )
    html = (
        f'<!doctype html><meta http-equiv="Content-Security-Policy" content="{policy}">'
        f"<p>Shop</p>{embed(live_app)}"
    )
    violations = []
    page.on("console", lambda message: violations.append(message.text))
    page.goto(host_pages.serve("/csp", html))
    launcher = page.get_by_role("button", name="Open chat")
    assert launcher.bounding_box()["width"] == 56  # styled
    launcher.click()
    send(page, "Hello")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    assert not [text for text in violations if "Content Security Policy" in text]


def test_the_minified_widget_that_collectstatic_writes_works(page, live_app, demo_site, answer):
    minified = widget_minify((Path(settings.BASE_DIR) / "static/csbot/widget.js").read_text())
    page.route(
        "**/static/csbot/widget.js",
        lambda route: route.fulfill(body=minified, content_type="text/javascript"),
    )
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "Hello")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")


HOST_PAGE = """<!doctype html>
<style>body { font: 17px/1.7 Georgia, serif; color: #333 } h1 { color: #802 }
button { padding: 3px 9px } p { margin: 1em 0 } </style>
<h1>Host page</h1><p>Paragraph <a href="/x">link</a></p><button>Buy</button><div>plain div</div>"""
PROBED = ["body", "h1", "p", "a", "button", "div"]
PROPERTIES = ["color", "fontFamily", "fontSize", "lineHeight", "margin", "padding", "display",
              "boxSizing", "background-color", "border", "letterSpacing"]  # fmt: skip


def test_widget_styles_do_not_leak_onto_the_host_page(
    page, live_app, host_pages, demo_site, answer
):
    page.goto(host_pages.serve("/plain", HOST_PAGE))
    snapshot = f"""() => ({{
        styles: {PROBED}.map(sel => {{
            const s = getComputedStyle(document.querySelector(sel));
            return {PROPERTIES}.map(p => s.getPropertyValue(p) || s[p]);
        }}),
        sheets: document.styleSheets.length,
        adopted: document.adoptedStyleSheets.length,
        headChildren: document.head.children.length,
    }})"""
    before = page.evaluate(snapshot)
    page.evaluate(
        """([src, key]) => { const s = document.createElement('script'); s.src = src;
           s.dataset.site = key; document.body.appendChild(s); }""",
        [f"{live_app.url}/static/csbot/widget.js", "site_demo"],
    )
    page.get_by_role("button", name="Open chat").click()
    send(page, "Hello")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")

    assert page.evaluate(snapshot) == before
    assert page.evaluate("document.querySelectorAll('style, link[rel=stylesheet]').length") == 1


def test_markdown_renders_as_elements_with_safe_links(page, live_app, demo_site, answer):
    answer.tokens = [
        "Returns are **free** within *30 days* [1]. Use code `RET-30`.\n\n",
        "Steps:\n- open [your orders](https://shop.example.com/orders)\n- choose the item\n\n",
        "1. pack it\n2. drop it off\n\nDetails: https://shop.example.com/returns.",
    ]
    answer.citations = [{"n": 1, "title": "Returns policy", "url": "https://shop.example.com/r"}]
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "How do returns work?")

    bubble = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(bubble.locator("p")).to_have_count(3)
    expect(bubble.locator("strong")).to_have_text("free")
    expect(bubble.locator("em")).to_have_text("30 days")
    expect(bubble.locator("code")).to_have_text("RET-30")
    expect(bubble.locator("ul > li")).to_have_text(["open your orders", "choose the item"])
    expect(bubble.locator("ol > li")).to_have_text(["pack it", "drop it off"])
    for href in ["https://shop.example.com/orders", "https://shop.example.com/returns"]:
        link = bubble.locator(f"a[href='{href}']")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")

    bubble.get_by_role("link", name="Source 1: Returns policy").click()
    assert shadow_eval(page, "root.activeElement.textContent") == "Returns policy"
    assert page.url == live_app.url + "/"  # the footnote link did not navigate the host page


XSS_TOKENS = [
    'Look: <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>\n\n',
    "[click](javascript:window.__pwned=3) [data](data:text/html,x) [ok](https://example.com/a)\n\n",
    '<a href="javascript:window.__pwned=4">raw</a> [x](JaVaScRiPt:window.__pwned=5) ',
    "<style>*{display:none}</style> <iframe src=javascript:window.__pwned=6></iframe> [1]",
]


def test_hostile_markup_in_a_reply_renders_as_inert_text(page, live_app, demo_site, answer):
    Site.objects.filter(pk=demo_site.pk).update(greeting='<b onmouseover="window.__pwned=7">hi</b>')
    answer.tokens = XSS_TOKENS
    answer.citations = [
        {"n": 1, "title": '<img src=x onerror="window.__pwned=8">', "url": "javascript:alert(1)"}
    ]
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "<img src=x onerror=window.__pwned=9>")

    bubble = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(bubble).to_contain_text('<img src=x onerror="window.__pwned=1">')
    reply_id = Message.objects.get(author_kind="bot").pk
    expect(bubble).to_contain_text("<script>window.__pwned=2</script>")
    expect(widget(page, ".msg.visitor .bubble")).to_have_text(
        "<img src=x onerror=window.__pwned=9>"
    )
    expect(widget(page, ".sources li")).to_have_text('<img src=x onerror="window.__pwned=8">')
    widget(page, ".msg.bot .bubble").first.hover()
    found = shadow_eval(
        page,
        """{
        dangerous: root.querySelectorAll('img, script, iframe, object, embed, b').length,
        styles: root.querySelectorAll('style').length,
        handlers: [...root.querySelectorAll('*')].flatMap(el => [...el.attributes])
            .filter(a => a.name.startsWith('on')).length,
        hrefs: [...root.querySelectorAll('a')].map(a => a.getAttribute('href')),
        }""",
    )
    assert found["dangerous"] == 0
    assert found["styles"] == 0  # the widget's own sheet is adopted, not an element
    assert found["handlers"] == 0
    # The footnote [1] points inside the widget; its source's javascript: URL became plain text.
    assert found["hrefs"] == ["https://example.com/a", f"#src-{reply_id}-1"]
    assert page.evaluate("window.__pwned") is None


@pytest.mark.parametrize("browser_context_args", [PHONE])
def test_widget_fills_a_360_px_phone_screen(page, live_app, demo_site, answer):
    page.goto(live_app.url + "/")
    launcher = page.get_by_role("button", name="Open chat")
    launcher.tap()
    panel = page.get_by_role("dialog", name="Lumen & Co.")
    expect(panel).to_be_visible()
    assert panel.bounding_box() == {"x": 0, "y": 0, "width": 360, "height": 740}
    expect(launcher).to_be_hidden()  # the panel covers the screen; its header closes it
    # Modal while it hides the page: Tab goes round inside it, never to the page behind.
    expect(panel).to_have_attribute("aria-modal", "true")
    page.get_by_role("textbox", name="Message").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        assert focused_in_widget(page) is not None
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        assert focused_in_widget(page) is not None
    box = page.get_by_role("textbox", name="Message")
    # 16 px or more, or iOS Safari zooms the page when the field takes focus.
    assert box.evaluate("el => getComputedStyle(el).fontSize") == "16px"

    send(page, "Can I pay with Alipay or WeChat Pay when I order from abroad?")
    reply = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(reply).to_have_text("Parcels ship in 48 hours.")
    visitor_box = widget(page, ".msg.visitor .bubble").bounding_box()
    assert visitor_box["x"] >= 0
    assert visitor_box["x"] + visitor_box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("button", name="Close chat").tap()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_visible()


def focused_in_widget(page) -> str | None:
    """The class of the focused element inside the widget, if focus is there."""
    return page.evaluate(
        """() => { const a = document.activeElement;
        return a && a.tagName === 'CSBOT-WIDGET' ? a.shadowRoot.activeElement.className : null }"""
    )


def test_keyboard_alone_opens_sends_and_closes(page, live_app, demo_site, answer):
    page.goto(live_app.url + "/")
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    for _ in range(10):
        page.keyboard.press("Tab")
        if focused_in_widget(page) == "launcher":
            break
    assert focused_in_widget(page) == "launcher"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Lumen & Co.")).to_be_visible()
    assert focused_in_widget(page) is not None
    assert shadow_eval(page, "root.activeElement.tagName") == "TEXTAREA"

    page.keyboard.type("Hello there")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    expect(widget(page, ".msg.visitor .bubble")).to_have_text("Hello there\nsecond line")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    # Screen readers hear the finished answer once, through the polite live region.
    expect(widget(page, "[aria-live=polite]")).to_have_text("Assistant: Parcels ship in 48 hours.")

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert focused_in_widget(page) == "launcher"
    expect(page.get_by_role("button", name="Open chat")).to_have_attribute("aria-expanded", "false")


def test_lost_socket_reconnects_resumes_and_sends_what_was_queued(
    page, live_app, demo_site, answer
):
    answer.hold_after = 1
    sockets = []
    refuse = {"on": False}

    def route_socket(ws) -> None:
        if refuse["on"]:
            ws.close(code=1012, reason="restarting")
            return
        sockets.append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r"/ws/chat/"), route_socket)
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "Where is my parcel?")
    reply = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(reply).to_have_text("Parcels")

    refuse["on"] = True
    page_side, server_side = sockets[-1]
    page_side.close(code=1012)
    server_side.close()
    expect(widget(page, ".state")).to_have_text("Reconnecting…")
    send(page, "Still there?")
    expect(widget(page, ".msg.visitor.pending .meta")).to_have_text("Sending…")
    # The answer finishes while the visitor is offline.
    answer.hold_after = None
    answer.release.set()
    wait_until(lambda: Message.objects.filter(author_kind="bot", state="complete").exists())

    refuse["on"] = False
    expect(reply).to_have_text("Parcels ship in 48 hours.", timeout=15_000)
    expect(widget(page, ".msg.visitor")).to_have_count(2)
    expect(widget(page, ".msg.visitor.pending")).to_have_count(0)
    expect(widget(page, ".state")).to_have_text("Virtual assistant")
    expect(widget(page, ".msg.bot[data-seq='4'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    texts = (
        Message.objects.filter(author_kind="visitor").order_by("seq").values_list("text", flat=True)
    )
    assert list(texts) == ["Where is my parcel?", "Still there?"]


def test_rate_limited_message_shows_failed_and_retry_sends_it_once(
    page, live_app, demo_site, answer, settings
):
    settings.CSBOT_MESSAGES_PER_MINUTE = 1
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "first")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    send(page, "second")

    failed = widget(page, ".msg.visitor.failed")
    expect(failed.locator(".meta")).to_contain_text(
        "Not sent: You are sending messages too quickly"
    )
    assert list(Message.objects.filter(author_kind="visitor").values_list("text", flat=True)) == [
        "first"
    ]
    settings.CSBOT_MESSAGES_PER_MINUTE = 5  # as if the minute were over
    failed.get_by_role("button", name="Retry").click()
    expect(widget(page, ".msg.visitor.failed")).to_have_count(0)
    expect(widget(page, ".msg.bot[data-seq='4'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    visitor_messages = Message.objects.filter(author_kind="visitor").order_by("seq")
    assert [m.text for m in visitor_messages] == ["first", "second"]


def test_a_message_of_only_invisible_characters_is_refused_without_a_retry(
    page, live_app, demo_site, answer
):
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "\u200b\u200b")
    failed = widget(page, ".msg.visitor.failed")
    expect(failed.locator(".meta")).to_have_text("Not sent: The message is empty.")
    # The same text would be refused again (empty_message): only transient failures offer Retry.
    expect(failed.get_by_role("button", name="Retry")).to_have_count(0)
    assert not Message.objects.filter(author_kind="visitor").exists()


def agent_joins(*, conversation_id: int, agent_id: int, text: str) -> None:
    """What the handoff flow does when an agent takes a conversation (a stand-in for it)."""
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation_id).update(status=Conversation.Status.AGENT)
        transaction.on_commit(
            lambda: events.status_changed(
                conversation_id=conversation_id, status="agent", reason="assigned"
            )
        )
    message_create(
        conversation_id=conversation_id, author_kind="agent", author_id=agent_id, text=text
    )


def test_agent_reply_while_closed_shows_a_badge_and_the_agent_in_the_header(
    page, live_app, demo_site
):
    agent = get_user_model().objects.create_user("mei", first_name="Mei")
    page.goto(live_app.url + "/")
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    wait_until(lambda: Conversation.objects.exists())
    conversation = Conversation.objects.get()

    live_app.call(
        agent_joins, conversation_id=conversation.pk, agent_id=agent.pk, text="Hi, I'm Mei."
    )
    unread = page.get_by_role("button", name="Open chat (1 unread message)")
    expect(unread).to_be_visible()
    expect(widget(page, ".badge")).to_have_text("1")

    unread.click()
    expect(widget(page, ".badge")).to_be_hidden()
    expect(widget(page, ".state")).to_have_text("Chatting with an agent")
    expect(widget(page, ".msg.agent .name")).to_have_text("Mei")
    expect(widget(page, ".msg.agent .bubble")).to_have_text("Hi, I'm Mei.")


def within_5_s(promise: str) -> str:
    """A script resolving to "stored" or the error's message, failing after 5 s (never hangs)."""
    timeout = "new Promise((_, no) => setTimeout(() => no(new Error('no answer in 5 s')), 5000))"
    return f"Promise.race([{promise}, {timeout}]).then(() => 'stored', error => error.message)"


def test_page_api_opens_closes_and_identifies_the_visitor(page, live_app, demo_site):
    # Calls made before the script loaded are queued and run once it has.
    page.add_init_script("window.csbot = {q: [['open']]}")
    page.goto(live_app.url + "/")
    panel = page.get_by_role("dialog", name="Lumen & Co.")
    expect(panel).to_be_visible()
    page.evaluate("csbot.close()")
    expect(panel).to_be_hidden()
    page.evaluate("csbot.open()")
    expect(panel).to_be_visible()

    details = "{name: 'Mei Chen', email: 'mei@example.com', externalId: 'u-42'}"
    assert page.evaluate(within_5_s(f"csbot.identify({details})")) == "stored"
    visitor = Visitor.objects.get()
    assert [visitor.name, visitor.email, visitor.external_id] == [
        "Mei Chen",
        "mei@example.com",
        "u-42",
    ]
    refused = page.evaluate(within_5_s("csbot.identify({email: 'nope'})"))
    assert "email" in refused
    assert Visitor.objects.get().email == "mei@example.com"


@pytest.mark.parametrize(
    ("browser_context_args", "site_language", "label"),
    [
        ({"locale": "zh-CN"}, Language.ENGLISH, "打开在线客服"),
        ({"locale": "fr-FR"}, Language.CHINESE, "打开在线客服"),
        ({"locale": "fr-FR"}, Language.ENGLISH, "Open chat"),
    ],
)
def test_language_follows_the_browser_then_the_site_default(
    page, live_app, demo_site, site_language, label
):
    Site.objects.filter(pk=demo_site.pk).update(default_language=site_language)
    page.goto(live_app.url + "/")
    page.get_by_role("button", name=label).click()
    expect(page.get_by_role("textbox")).to_have_attribute(
        "placeholder", "请输入您的问题…" if label != "Open chat" else "Type your question…"
    )


@pytest.mark.parametrize(
    ("theme", "background", "ink"),
    [
        ("#0f766e", "rgb(15, 118, 110)", "rgb(255, 255, 255)"),  # dark teal: white text
        ("#facc15", "rgb(250, 204, 21)", "rgb(15, 23, 42)"),  # light yellow: dark text
    ],
)
def test_theme_colour_comes_from_the_site_with_readable_text(
    page, live_app, demo_site, theme, background, ink
):
    Site.objects.filter(pk=demo_site.pk).update(theme_color=theme)
    page.goto(live_app.url + "/")
    launcher = page.get_by_role("button", name="Open chat")
    colours = "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
    assert launcher.evaluate(colours) == [background, ink]
    launcher.click()
    assert widget(page, ".head").evaluate(colours) == [background, ink]


def test_data_lang_sets_what_the_server_says_too(new_context, live_app, host_pages, demo_site):
    # A site owner's data-lang="en" beats a Chinese browser: the labels and the greeting (and
    # every system line) follow it, not navigator.language.
    Site.objects.filter(pk=demo_site.pk).update(greeting="您好！", greeting_other="Hello there!")
    page = new_context(locale="zh-CN").new_page()
    html = f"<!doctype html><p>Shop</p>{embed(live_app, lang='en')}"
    page.goto(host_pages.serve("/english", html))
    page.get_by_role("button", name="Open chat").click()
    expect(widget(page, ".msg.bot .bubble").first).to_have_text("Hello there!")


def refused_on(page, url: str, site_key: str) -> tuple[int, str]:
    """Open a host page whose widget the server refuses: the session answer's status and the
    warning the widget logs."""
    with (
        page.expect_console_message(lambda message: "csbot:" in message.text) as warning,
        page.expect_response(re.compile(rf"/api/widget/{site_key}/session")) as response,
    ):
        page.goto(url)
    return response.value.status, warning.value.text


def test_page_on_an_origin_the_site_does_not_allow_gets_no_widget(
    page, live_app, host_pages, demo_site
):
    # Embedded on another origin, as on a real shop: the refusal must reach the script (CORS
    # headers on the 403), or it looks like a network error and the widget retries for ever.
    Site.objects.filter(pk=demo_site.pk).update(allowed_origins="https://shop.example.com")
    html = f"<!doctype html><p>Shop</p>{embed(live_app)}"
    status, warning = refused_on(page, host_pages.serve("/not-allowed", html), "site_demo")
    assert status == 403
    assert "origin" in warning
    assert page.locator("csbot-widget").count() == 0
    assert Visitor.objects.count() == 0


def test_an_unknown_or_missing_site_key_is_named_in_the_console_not_blamed_on_the_origin(
    page, live_app, host_pages, demo_site
):
    html = f"<!doctype html><p>Shop</p>{embed(live_app, site_key='site_typo')}"
    status, warning = refused_on(page, host_pages.serve("/typo", html), "site_typo")
    assert status == 404
    assert 'no site has the key "site_typo"' in warning
    assert "origin" not in warning

    requests = []
    page.on("request", lambda request: requests.append(request.url))
    with page.expect_console_message(lambda message: "csbot:" in message.text) as warning:
        page.goto(host_pages.serve("/no-key", f"<!doctype html>{embed(live_app, site_key='')}"))
    assert "no data-site attribute" in warning.value.text
    assert not [url for url in requests if "/api/widget/" in url]  # nothing asked, no retries
    assert page.locator("csbot-widget").count() == 0
    assert Visitor.objects.count() == 0


def test_a_visitor_erased_while_chatting_starts_again_as_a_new_visitor(
    page, live_app, demo_site, answer
):
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "first")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    erased = Visitor.objects.get().pk
    live_app.call(visitor_erase, visitor=Visitor.objects.get())

    # The socket closes 4401; the widget takes a new token quietly, no error shown, and what
    # was erased leaves the screen too: only the greeting stays.
    expect(widget(page, ".msg.visitor")).to_have_count(0)
    expect(widget(page, ".msg.bot")).to_have_count(1)
    send(page, "second")
    expect(widget(page, ".msg.bot[data-seq='2'] .bubble")).to_have_text("Parcels ship in 48 hours.")
    expect(widget(page, ".msg.visitor")).to_have_count(1)
    expect(widget(page, ".alert")).to_be_hidden()
    (visitor,) = Visitor.objects.all()
    assert list(Message.objects.filter(author_kind="visitor").values_list("text", flat=True)) == [
        "second"
    ]
    assert visitor.pk != erased
