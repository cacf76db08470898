"""The answering pipeline in the real widget: the guard's cut-off and citations, as rendered."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from apps.bot.models import AnswerAudit, GuardEvent, SensitiveTerm
from apps.bot.texts import text_for
from apps.knowledge.models import Article
from apps.knowledge.services.content import article_save
from tests.browser.test_widget import send, widget
from tests.llm.fixtures import chain, fresh_breaker, provider
from tests.llm.loopback import Pause
from tests.llm.provider_replies import openai_stream

__all__ = ["chain", "fresh_breaker", "provider"]

pytestmark = [pytest.mark.browser]
TERM = "秘密配方"
QUESTION = "Can I change my delivery address after ordering?"
# Records every text the widget's shadow DOM ever holds, so a term shown for one frame counts.
WATCH = """term => {
  const root = document.querySelector('csbot-widget').shadowRoot;
  window.__seen = {term: false, texts: []};
  const check = () => {
    const text = root.textContent;
    window.__seen.texts.push(text);
    if (text.includes(term) || text.includes(term.slice(0, 2))) window.__seen.term = true;
  };
  new MutationObserver(check).observe(root, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture
def demo_help_centre(settings, demo_site, fresh_breaker):
    settings.CSBOT_EMBEDDINGS = "off"
    call_command("kb_demo_load", "--site", demo_site.public_key, stdout=None)
    return demo_site


def test_a_sensitive_term_streamed_by_the_model_never_reaches_the_page(
    page, live_app, demo_help_centre, chain, provider
):
    SensitiveTerm.objects.create(term=TERM, category="other", action="block")
    chain(("openai/gpt-4o-mini", provider.url))
    tokens = ["You can change ", "the address under My orders ", "until it ships [1]. ", "Our 秘"]
    provider.reply(openai_stream([*tokens, "密", "配方 is ", "in the lamp."], between=Pause(0.05)))
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    page.evaluate(WATCH, TERM)
    send(page, QUESTION)
    reply = widget(page, ".msg.bot[data-seq='2'] .bubble")
    expect(reply).to_have_text(text_for("refuse", "en"))
    seen = page.evaluate("window.__seen")
    assert not seen["term"]
    # The clean beginning was streamed to the page, then withdrawn.
    assert any("until it ships" in text for text in seen["texts"])
    assert TERM not in page.evaluate("document.querySelector('csbot-widget').shadowRoot.innerHTML")
    live_app.settle()
    event = GuardEvent.objects.get()
    assert (event.source, event.outcome, event.term_text) == ("output", "blocked", TERM)
    assert AnswerAudit.objects.get().reason == "guard_output"


def test_citations_render_as_links_to_the_source_article(page, live_app, demo_help_centre, chain):
    article = Article.objects.get(external_id="article-orders-en")
    article.source_url = "https://shop.example.com/help/orders"
    article_save(article=article)
    page.goto(live_app.url + "/")
    page.get_by_role("button", name="Open chat").click()
    send(page, QUESTION)
    reply = widget(page, ".msg.bot[data-seq='2']")
    expect(reply.locator(".bubble")).to_contain_text("until the order ships")
    expect(reply.locator(".bubble a.cite").first).to_have_text("[1]")
    link = reply.locator(".sources a", has_text="Changing the delivery address")
    expect(link).to_have_attribute("href", "https://shop.example.com/help/orders")
    expect(link).to_have_text("Managing your order \u203a Changing the delivery address")
