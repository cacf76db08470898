"""Every naughty string through the knowledge import, the public KB pages and the admin.

Import normalisations (docs/knowledge.md, docs/security.md): titles and FAQ questions are
stripped, and a blank one refuses the file naming its line; JSONL bodies are kept exactly;
CSV cells and Markdown bodies are stripped (Markdown also turns CRLF into LF).
"""

from __future__ import annotations

import csv
import io
import json
import operator
import time
from functools import reduce

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.chat.models import Conversation, Message
from apps.chat.services import message_create, visitor_create
from apps.knowledge.importers import ImportFailed, entries_parse
from apps.knowledge.models import Article, Collection, FAQEntry, ImportJob
from apps.knowledge.rendering import markdown_render
from apps.knowledge.services.content import collection_create
from apps.knowledge.services.imports import collection_import
from tests.security.blns import assert_inert, markup_bearing, naughty_strings

FILLED = [(n, s) for n, s in enumerate(naughty_strings()) if s.strip()]


@pytest.fixture(autouse=True)
def _lexical_search(settings: object) -> None:
    # Dense vectors are not what is under test; the real model would add a minute.
    settings.CSBOT_EMBEDDINGS = "off"  # type: ignore[attr-defined]


def jsonl_of(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()


def wait_finished(client: Client, job_id: int) -> dict:
    url = reverse("admin:knowledge_import_progress", args=[job_id])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = client.get(url, {"format": "json"}).json()
        if progress["finished"]:
            return progress
        time.sleep(0.05)  # polling the real background thread, as the page does
    raise AssertionError("the import did not finish within 60 s")


@pytest.mark.django_db(transaction=True)
def test_every_naughty_title_and_body_imports_through_the_admin_upload(admin_client: Client):
    rows = [{"id": f"a{n}", "title": s, "body": s} for n, s in FILLED]
    rows += [{"id": f"f{n}", "kind": "faq", "title": s, "body": s} for n, s in FILLED]
    response = admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile("blns.jsonl", jsonl_of(rows)),
            "new_collection": "Naughty",
            "format": "auto",
        },
    )
    assert response.status_code == 302
    progress = wait_finished(admin_client, ImportJob.objects.get().pk)
    assert progress["state"] == "done", progress
    expected = {f"a{n}": (s.strip(), s) for n, s in FILLED}
    assert {a.external_id: (a.title, a.body) for a in Article.objects.all()} == expected
    expected = {f"f{n}": (s.strip(), s) for n, s in FILLED}
    assert {f.external_id: (f.question, f.answer) for f in FAQEntry.objects.all()} == expected

    # Every body through the renderer the public pages use; the pages of the ones bearing
    # markup (the same view serves articles and FAQ entries): served, and inert.
    plain = markdown_render("undefined")
    for _, s in FILLED:
        assert_inert(markdown_render(s), baseline=plain)
    collection = Collection.objects.get(name="Naughty")
    baseline = Article.objects.get(external_id="a1")  # "undefined"
    plain = admin_client.get(reverse("knowledge:article", args=[collection.slug, baseline.pk]))
    bearing = set(markup_bearing())
    for article in Article.objects.filter(body__in=bearing):
        page = admin_client.get(reverse("knowledge:article", args=[collection.slug, article.pk]))
        assert page.status_code == 200, article.external_id
        assert_inert(page.content.decode(), baseline=plain.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("blank", [s for s in naughty_strings() if not s.strip()])
def test_a_blank_title_refuses_the_file_naming_its_line(blank: str):
    data = jsonl_of([{"id": "ok", "title": "Fine"}, {"id": "x", "title": blank, "body": "b"}])
    with pytest.raises(ImportFailed, match="line 2: missing 'title'"):
        entries_parse(data, name="kb.jsonl")


@pytest.mark.django_db
def test_every_naughty_csv_row_and_markdown_file_imports():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for _, s in FILLED:
        writer.writerow([s, s])
    entries = entries_parse(buffer.getvalue().encode(), name="faq.csv")
    # A leading BOM is the file's encoding mark, not text.
    bodies = {
        f"blns-{n}.md": s.removeprefix("\ufeff").replace("\r\n", "\n").strip() for n, s in FILLED
    }
    for n, s in FILLED:
        if bodies[f"blns-{n}.md"]:
            entries += entries_parse(s.encode(), name=f"blns-{n}.md")
        else:  # nothing but the BOM: no text to answer from, refused
            with pytest.raises(ImportFailed, match="no text"):
                entries_parse(s.encode(), name=f"blns-{n}.md")
    # Two strings differ only in surrounding whitespace: stripped, they are one CSV question.
    unique = {e.external_id: e for e in entries}
    collection_import(collection=collection_create(name="Naughty"), entries=list(unique.values()))

    questions = {s.strip() for _, s in FILLED}
    assert {f.question: f.answer for f in FAQEntry.objects.all()} == {q: q for q in questions}
    assert dict(Article.objects.values_list("external_id", "body")) == {
        name: body for name, body in bodies.items() if body
    }


@pytest.mark.django_db
def test_a_nul_character_or_an_overlong_title_refuses_the_file_with_its_line():
    collection = collection_create(name="Kept")
    for row in (
        {"id": "x", "title": "Null\x00byte", "body": "b"},
        {"id": "x", "title": "Fine", "body": "nul \x00 in the body"},
        {"id": "x", "title": "t" * 301, "body": "b"},
        {"id": "x" * 201, "title": "Fine", "body": "b"},
    ):
        entries = entries_parse(jsonl_of([{"id": "ok", "title": "Fine"}, row]), name="kb.jsonl")
        with pytest.raises(ImportFailed, match=r"kb\.jsonl line 2: "):
            collection_import(collection=collection, entries=entries)
    assert not Article.objects.exists()


@pytest.fixture
def naughty_conversation(site) -> Conversation:
    """One conversation holding every naughty string, from the visitor and as its name."""
    visitor = visitor_create(site=site)
    conversation = Conversation.objects.create(site=site, visitor=visitor, status="agent")
    for _, s in FILLED:
        message_create(conversation_id=conversation.pk, author_kind="visitor", text=s)
    return conversation


@pytest.mark.django_db
def test_every_naughty_string_searches_every_admin_changelist(admin_user):
    # The query each changelist builds from ?q=, for every admin with a search box, run.
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    searchable = [ma for ma in admin.site._registry.values() if ma.search_fields]
    assert len(searchable) >= 20
    strings = naughty_strings()
    for model_admin in searchable:
        queryset = model_admin.get_queryset(request)
        # Each string's query is built on its own; the database runs them OR-ed in chunks
        # (one statement per 50 strings: SQLite caps an expression's depth at 1000).
        for start in range(0, len(strings), 50):
            chunk = [
                model_admin.get_search_results(request, queryset, s)[0]
                for s in strings[start : start + 50]
            ]
            found = reduce(operator.or_, chunk)
            # Run without an error ("admin" finds the admin user, nothing else finds anything).
            assert found.count() <= 1, (model_admin, start)


@pytest.mark.django_db
def test_every_naughty_search_renders_escaped_in_the_conversations_changelist(admin_client, site):
    # Every changelist shows ?q= through the same admin template; this one searches visitors'
    # names and messages' text, so it also renders matches. Strings without markup cannot
    # change a page's markup: the query test above runs them.
    conversation = Conversation.objects.create(site=site, visitor=visitor_create(site=site))
    message_create(
        conversation_id=conversation.pk, author_kind="visitor", text="<script>alert(123)</script>"
    )
    url = reverse("admin:chat_conversation_changelist")
    plain = admin_client.get(url, {"q": "undefined"}).content.decode()
    for s in markup_bearing():
        page = admin_client.get(url, {"q": s})
        assert page.status_code == 200, s
        assert_inert(page.content.decode(), baseline=plain)
    hit = admin_client.get(url, {"q": "<script>alert(123)</script>"}).context["cl"]
    assert list(hit.result_list) == [conversation]


@pytest.mark.django_db
def test_a_conversation_holding_every_naughty_string_renders_inert_in_the_admin(
    admin_client, naughty_conversation
):
    change = reverse("admin:chat_conversation_change", args=[naughty_conversation.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    for payload in markup_bearing():
        assert payload not in html
    site = naughty_conversation.site
    plain = Conversation.objects.create(site=site, visitor=visitor_create(site=site))
    message_create(conversation_id=plain.pk, author_kind="visitor", text="hello")
    baseline = admin_client.get(reverse("admin:chat_conversation_change", args=[plain.pk]))
    assert_inert(html, baseline=baseline.content.decode())
    messages = reverse("admin:chat_message_changelist")
    listed = admin_client.get(messages)
    assert listed.status_code == 200
    baseline = admin_client.get(messages, {"q": "hello"})
    assert_inert(listed.content.decode(), baseline=baseline.content.decode())
    assert Message.objects.filter(conversation=naughty_conversation).count() == len(FILLED)
