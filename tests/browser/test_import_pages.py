"""The import progress page in Chromium: an import that fails while it is open says so."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from apps.knowledge.models import ImportJob
from apps.knowledge.services.content import collection_create
from tests.handoff.sockets import session_cookie

pytestmark = [pytest.mark.browser]


def test_the_page_retitles_itself_when_the_import_fails_while_open(new_context, live_app):
    admin = get_user_model().objects.create_user("root", is_staff=True, is_superuser=True)
    job = ImportJob.objects.create(
        collection=collection_create(name="Help centre"),
        file_name="faq.csv",
        format="csv",
        state=ImportJob.State.RUNNING,
        alive_at=timezone.now(),
    )
    name, value = session_cookie(admin).split("=", 1)
    context = new_context()
    context.add_cookies([{"name": name, "value": value, "url": live_app.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_app.url + reverse("admin:knowledge_import_progress", args=[job.pk]))
    expect(page.locator("#kb-title")).to_have_text("Importing faq.csv")
    expect(page).to_have_title(re.compile(r"^Importing faq\.csv \|"))

    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJob.State.FAILED, message="faq.csv line 2: oops", finished_at=timezone.now()
    )

    expect(page.locator("#kb-title")).to_have_text("Import of faq.csv failed")
    expect(page).to_have_title(re.compile(r"^Import of faq\.csv failed \|"))
    expect(page.locator("#kb-state")).to_have_text("failed")
    assert errors == []
