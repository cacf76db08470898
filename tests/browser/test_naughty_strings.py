"""The script-bearing naughty strings (tests/data/blns.json) shown in the widget and the console.

Every one arrives as a visitor's, the bot's (rendered as Markdown) and an agent's message, and
in the console also as an internal note. ``alert``, ``confirm`` and ``prompt`` are replaced
before the page loads so that a payload which runs sets ``window.__pwned``; it never may.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from playwright.sync_api import expect

from apps.chat.models import Conversation, Message
from apps.chat.services import message_create
from apps.handoff.models import Ticket
from apps.handoff.services import handoff_request, ticket_claim, ticket_note_add, ticket_reply
from tests.browser.conftest import wait_until
from tests.browser.test_console import console  # noqa: F401 (fixture)
from tests.browser.test_widget import send, widget
from tests.security.blns import script_bearing

pytestmark = [pytest.mark.browser]

CANARY = """
window.__pwned = null;
for (const name of ['alert', 'confirm', 'prompt']) {
  window[name] = (...args) => { window.__pwned = name + ':' + String(args[0]); };
}
"""
# What could run script inside ``root``: elements and script URLs in the messages (``scope``:
# the widget's and the console's own icons are SVG), handler attributes anywhere.
ACTIVE = """([root, scope]) => ({
  elements: root.querySelectorAll(['script', 'img', 'iframe', 'object', 'embed', 'svg', 'math',
      'style', 'form', 'input'].map(tag => scope + ' ' + tag).join(', ')).length,
  handlers: [...root.querySelectorAll('*')].flatMap(el => [...el.attributes])
      .filter(a => a.name.startsWith('on')).length,
  urls: [...root.querySelectorAll(['[href]', '[src]', '[action]'].map(a => scope + ' ' + a)
      .join(', '))]
      .map(el => el.getAttribute('href') || el.getAttribute('src') || el.getAttribute('action'))
      .filter(url => /^\\s*(javascript|vbscript|data):/i.test(url)).length,
})"""
NOTHING = {"elements": 0, "handlers": 0, "urls": 0}


def conversation_fill(*, conversation_id: int, texts: list[str], bot: bool = True) -> None:
    """Each text as the visitor's and then, with ``bot``, the bot's message (Markdown)."""
    for text in texts:
        message_create(conversation_id=conversation_id, author_kind="visitor", text=text)
        if bot:
            message_create(conversation_id=conversation_id, author_kind="bot", text=text)


def fill(live_app: Any, fn: Any, **kwargs: Any) -> None:
    """Run a filler on the server's loop, as a consumer would, with time for 500 writes."""
    live_app.run(sync_to_async(fn)(**kwargs), timeout=120)


def agent_fill(*, ticket_id: int, agent: Any, texts: list[str]) -> None:
    ticket_claim(ticket_id=ticket_id, agent=agent)
    for text in texts:
        ticket_reply(ticket_id=ticket_id, agent=agent, text=text)
        ticket_note_add(ticket_id=ticket_id, agent=agent, text=text)


def test_script_bearing_strings_stay_text_in_the_widget(page, live_app, demo_site, answer):
    texts = script_bearing()
    page.add_init_script(CANARY)
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, "hello")
    wait_until(lambda: Message.objects.filter(author_kind="bot", state="complete").exists())
    conversation = Conversation.objects.get()

    fill(live_app, conversation_fill, conversation_id=conversation.pk, texts=texts)
    # Read back through resume (a burst of 480 live events would overflow the socket's
    # channel-layer queue, which drops what does not fit, before any could render).
    page.reload()  # the panel stays open across pages
    expect(widget(page, ".msg.visitor .bubble")).to_have_count(1 + len(texts), timeout=60_000)
    # The greeting and the answer to "hello", then one per string.
    expect(widget(page, ".msg.bot .bubble")).to_have_count(2 + len(texts))
    # Visitor messages are plain text: each shows exactly as typed.
    shown = widget(page, ".msg.visitor .bubble").all_inner_texts()[1:]
    assert [s.strip() for s in shown] == [t.strip() for t in texts]
    root = page.locator("csbot-widget").evaluate_handle("el => el.shadowRoot")
    assert page.evaluate(ACTIVE, [root, ".bubble"]) == NOTHING
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("alert('probe'), window.__pwned") == "alert:probe"  # the trap works


def test_script_bearing_strings_stay_text_in_the_console_transcript(
    page,
    live_app,
    demo_site,
    console,  # noqa: F811 (the fixture imported above)
    answer,
):
    texts = script_bearing()
    console.add_init_script(CANARY)
    console.reload()
    expect(console.locator("#connection")).to_have_text("Live")
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, texts[0])
    wait_until(lambda: Message.objects.filter(author_kind="visitor").exists())
    conversation = Conversation.objects.get()
    mei = demo_site.teams.get().members.get()
    # The console shows a transcript's first 500 messages (TRANSCRIPT_LIMIT): no bot ones here.
    fill(live_app, conversation_fill, conversation_id=conversation.pk, texts=texts, bot=False)
    live_app.call(handoff_request, conversation_id=conversation.pk, reason="customer_request")
    ticket = Ticket.objects.get()
    fill(live_app, agent_fill, ticket_id=ticket.pk, agent=mei, texts=texts)

    # A fresh snapshot: the burst of events may have overflowed the console's channel queue.
    console.reload()
    expect(console.locator("#connection")).to_have_text("Live")
    console.locator('.tabs [data-filter="mine"]').click()  # claimed: no longer "waiting"
    expect(console.locator("#ticket-list li")).to_have_count(1)
    console.keyboard.press("j")
    transcript = console.locator("#transcript")
    expect(transcript.locator(".msg.agent")).to_have_count(len(texts), timeout=60_000)
    expect(transcript.locator(".msg.visitor")).to_have_count(1 + len(texts))
    expect(console.locator("#notes li")).to_have_count(len(texts))
    document = console.evaluate_handle("document")
    assert console.evaluate(ACTIVE, [document, "#transcript .msg"]) == NOTHING
    assert console.evaluate(ACTIVE, [document, "#notes"]) == NOTHING
    assert console.evaluate("window.__pwned") is None
    assert page.evaluate("window.__pwned") is None
    assert console.evaluate("prompt('probe'), window.__pwned") == "prompt:probe"  # the trap works
