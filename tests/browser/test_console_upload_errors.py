"""A file the console could not send says why in the agent's language, from its own catalog."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.handoff.models import Team
from tests.browser.test_console import claimed_ticket, console_open
from tests.chat import files
from tests.conftest import agent_create

pytestmark = [pytest.mark.browser]

PNG = {"name": "screen.png", "mimeType": "image/png", "buffer": files.png()}


@pytest.fixture
def chinese_console(browser, live_app, demo_site, settings, tmp_path):
    """Mei's console in Chinese, her claimed ticket open."""
    settings.MEDIA_ROOT = str(tmp_path)
    mei = agent_create("mei", team=Team.objects.create(site=demo_site, name="客服组"))
    context, page, errors = console_open(browser, live_app, mei, locale="zh-CN")
    expect(page.locator("#connection")).to_have_text("已连接")
    ticket = claimed_ticket(live_app, demo_site, mei, "发票在哪里？")
    page.locator('.tabs [data-filter="mine"]').click()
    page.locator(f'[data-ticket-id="{ticket.pk}"]').click()
    expect(page.locator("#transcript")).to_contain_text("发票在哪里？")
    yield page
    context.close()
    assert errors == []


def test_an_expired_security_token_says_so_in_the_consoles_own_chinese(chinese_console):
    chinese_console.evaluate(
        "document.querySelectorAll('[name=csrfmiddlewaretoken]').forEach(i => i.value = 'x')"
    )
    with chinese_console.expect_response("**/attachments") as refused:
        chinese_console.locator("#attach-file").set_input_files(files=[PNG])
    assert refused.value.status == 403
    expect(chinese_console.locator(".toast.error")).to_have_text(
        "此页面的安全令牌已过期：请刷新页面，然后重新发送文件。"
    )


def test_a_proxys_refusal_of_a_large_body_reads_as_too_large(chinese_console):
    # nginx answers client_max_body_size with its own HTML page, not csbot's JSON.
    chinese_console.route(
        "**/attachments",
        lambda route: route.fulfill(status=413, content_type="text/html", body="<h1>413</h1>"),
    )
    chinese_console.locator("#attach-file").set_input_files(files=[PNG])
    expect(chinese_console.locator(".toast.error")).to_have_text("文件太大，无法发送。")
