"""The upload pages in headless Chromium: the polling script, the replace review."""

from __future__ import annotations

from typing import Any

import pytest

from apps.knowledge.models import Collection, ImportJob
from tests.browser.conftest import (  # the browser fixtures, as tests/browser has them
    _live_app_process,
    _orm_beside_playwright,
    _playwright,
    _playwright_turn,
    browser,
    browser_context_args,
    context,
    live_app,
    new_context,
    page,
)
from tests.handoff.sockets import session_cookie

__all__ = [
    "_live_app_process",
    "_orm_beside_playwright",
    "_playwright",
    "_playwright_turn",
    "browser",
    "browser_context_args",
    "context",
    "live_app",
    "new_context",
    "page",
]

pytestmark = [pytest.mark.browser]


def _upload_page(context: Any, page: Any, live_app: Any, user: Any, upload: Any) -> None:
    """Open the upload form signed in as ``user``, the file ``upload`` chosen."""
    name, value = session_cookie(user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": live_app.url}])
    page.goto(f"{live_app.url}/admin/knowledge/collection/import/")
    page.set_input_files("input[name=file]", str(upload))


CHINESE = pytest.mark.parametrize(
    "browser_context_args", [{"locale": "zh-CN", "viewport": {"width": 1280, "height": 800}}]
)


@CHINESE
def test_a_replace_upload_is_reviewed_then_confirmed_in_the_admins_language(
    live_app: Any, context: Any, page: Any, admin_user: Any, help_centre: Collection, tmp_path: Any
) -> None:
    upload = tmp_path / "faq.csv"
    upload.write_text("Do you ship abroad?,To 30 countries.\n", encoding="utf-8")
    _upload_page(context, page, live_app, admin_user, upload)
    page.select_option("select[name=collection]", str(help_centre.pk))
    page.check("input[name=replace]")
    page.click("input[type=submit]")
    # The polling notices the review and draws the page anew with what would be removed.
    page.wait_for_selector("#kb-review")
    assert page.text_content("#kb-state") == "等待确认"
    assert "删除文件中没有的 4 个条目" in page.text_content("#kb-review")
    assert "Returns and refunds" in page.text_content("#kb-review")
    assert help_centre.faqs.count() + help_centre.articles.count() == 4
    page.click("button[value=confirm]")
    page.wait_for_selector("#kb-removed")
    assert page.text_content("#kb-state") == "已完成"
    assert "退款多久到账？" in page.text_content("#kb-removed")
    job = ImportJob.objects.get()
    assert (job.state, job.report["removed"]) == ("done", 4)
    assert [f.question for f in help_centre.faqs.all()] == ["Do you ship abroad?"]


@CHINESE
def test_the_polling_writes_the_state_in_the_admins_language(
    live_app: Any, context: Any, page: Any, admin_user: Any, tmp_path: Any
) -> None:
    upload = tmp_path / "faq.csv"
    upload.write_text("怎么退货？,三十天内可退。\n", encoding="utf-8")
    _upload_page(context, page, live_app, admin_user, upload)
    page.fill("input[name=new_collection]", "上传")
    page.click("input[type=submit]")
    # Not drawn anew (no replace): what the page shows at the end is the script's doing.
    page.wait_for_url("**/import/*/")
    # The outcome's message is written a moment before the state: wait for the state's words.
    page.wait_for_function("document.getElementById('kb-state').textContent === '已完成'")
    assert "新建" in page.text_content("#kb-message")
    assert Collection.objects.get(name="上传").faqs.count() == 1
