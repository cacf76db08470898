"""The knowledge base as an admin uses it: CRUD, bulk status, tuning, test search, uploads."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from apps.knowledge.models import Article, Collection, FAQEntry, ImportJob, Status, SynonymGroup
from apps.knowledge.selectors import passages_search
from apps.knowledge.services.content import collection_create

pytestmark = pytest.mark.django_db


def test_article_added_in_admin_is_searchable_at_once(
    admin_client: Client, collection: Collection
) -> None:
    response = admin_client.post(
        reverse("admin:knowledge_article_add"),
        {
            "collection": collection.pk,
            "title": "Gift cards",
            "body": "## Expiry\nGift cards never expire.",
            "status": Status.PUBLISHED,
            "language": "en",
            "tags": "",
            "source_url": "",
            "external_id": "",
            "source": "",
        },
    )
    assert response.status_code == 302, response.content
    (hit,) = passages_search(query="do gift cards expire", collections=[collection])
    assert hit.heading_path == ("Expiry",)


def test_faq_edited_in_admin_answers_with_the_new_text(
    admin_client: Client, help_centre: Collection
) -> None:
    faq = FAQEntry.objects.get(external_id="faq-warranty")
    response = admin_client.post(
        reverse("admin:knowledge_faqentry_change", args=[faq.pk]),
        {
            "collection": help_centre.pk,
            "question": faq.question,
            "alternatives": faq.alternatives,
            "answer": "Lamps: 5 years.",
            "status": Status.PUBLISHED,
            "language": "en",
            "tags": "",
            "external_id": faq.external_id,
            "source": "",
        },
    )
    assert response.status_code == 302
    (hit, *_) = passages_search(query="warranty", collections=[help_centre])
    assert hit.answer == "Lamps: 5 years."


def test_bulk_archive_and_publish_actions(admin_client: Client, help_centre: Collection) -> None:
    ids = list(Article.objects.values_list("pk", flat=True))
    url = reverse("admin:knowledge_article_changelist")
    admin_client.post(url, {"action": "archive", "_selected_action": ids})
    assert set(Article.objects.values_list("status", flat=True)) == {Status.ARCHIVED}
    assert all(
        hit.kind == "faq"
        for hit in passages_search(query="退货 refund 包邮", collections=[help_centre])
    )
    admin_client.post(url, {"action": "publish", "_selected_action": ids})
    assert "配送说明" in [h.title for h in passages_search(query="包邮", collections=[help_centre])]


def test_deleting_in_admin_removes_from_search(
    admin_client: Client, help_centre: Collection
) -> None:
    faq = FAQEntry.objects.get(external_id="faq-refund-zh")
    admin_client.post(reverse("admin:knowledge_faqentry_delete", args=[faq.pk]), {"post": "yes"})
    assert not FAQEntry.objects.filter(pk=faq.pk).exists()
    assert "退款多久到账？" not in [
        h.title for h in passages_search(query="退款", collections=[help_centre])
    ]


def test_changelists_search_and_filter(admin_client: Client, help_centre: Collection) -> None:
    articles = admin_client.get(
        reverse("admin:knowledge_article_changelist"), {"q": "配送", "status": "published"}
    )
    assert articles.status_code == 200
    assert "配送说明" in articles.content.decode()
    assert "Returns and refunds" not in articles.content.decode()
    for name in (
        "collection",
        "faqentry",
        "passage",
        "dictionaryword",
        "synonymgroup",
        "protectedpattern",
        "importjob",
    ):
        assert admin_client.get(reverse(f"admin:knowledge_{name}_changelist")).status_code == 200


def test_change_form_shows_a_sanitised_preview(
    admin_client: Client, collection: Collection
) -> None:
    article = Article.objects.create(
        collection=collection,
        title="Hostile",
        body="**Bold** <script>alert(1)</script> [x](javascript:alert(1))",
        language="en",
    )
    page = admin_client.get(
        reverse("admin:knowledge_article_change", args=[article.pk])
    ).content.decode()
    assert "<strong>Bold</strong>" in page
    assert "<script>alert(1)</script>" not in page
    assert 'href="javascript' not in page


def test_markdown_preview_endpoint_renders_safely(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:knowledge_preview"),
        {"text": "# Title\n<img src=x onerror=alert(1)>\n[ok](https://example.com)"},
    )
    html = response.content.decode()
    assert "<h1>Title</h1>" in html
    assert "<img" not in html  # raw HTML is shown as text, never passed through
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="https://example.com"' in html


def test_test_search_page_explains_each_hit(admin_client: Client, help_centre: Collection) -> None:
    response = admin_client.get(
        reverse("admin:knowledge_test_search"),
        {"query": "退款多久到账", "collections": help_centre.pk, "limit": 5},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "退款多久到账？" in page
    assert '<span class="kb-term">退款</span>' in page
    assert "Lexical (BM25)" in page
    assert "Semantic (cosine)" in page
    assert "words only" in page


def test_synonym_added_in_admin_takes_effect_without_restart(
    admin_client: Client, help_centre: Collection
) -> None:
    response = admin_client.post(
        reverse("admin:knowledge_synonymgroup_add"), {"terms": "退款 = 退钱"}
    )
    assert response.status_code == 302
    assert SynonymGroup.objects.count() == 1
    assert "退款多久到账？" in [
        h.title for h in passages_search(query="退钱", collections=[help_centre])
    ]


def test_invalid_tuning_is_refused_with_a_message(admin_client: Client) -> None:
    bad_pattern = admin_client.post(
        reverse("admin:knowledge_protectedpattern_add"),
        {"name": "x", "pattern": "[A-Z", "is_active": "on"},
    )
    assert "Not a valid pattern" in bad_pattern.content.decode()
    empty = admin_client.post(
        reverse("admin:knowledge_protectedpattern_add"), {"name": "x", "pattern": "a*"}
    )
    assert "must not match empty text" in empty.content.decode()
    synonyms = admin_client.post(reverse("admin:knowledge_synonymgroup_add"), {"terms": "退款"})
    assert "at least two different terms" in synonyms.content.decode()
    SynonymGroup.objects.create(terms="退款 = 退钱 = refund")
    again = admin_client.post(reverse("admin:knowledge_synonymgroup_add"), {"terms": "Refund=退钱"})
    assert "The group “退款 = 退钱 = refund” already has these terms." in again.content.decode()
    assert SynonymGroup.objects.count() == 1


def test_staff_without_permissions_cannot_use_the_knowledge_pages(
    client: Client, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username="intern", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:knowledge_test_search"), {"query": "x"}).status_code == 403
    assert client.get(reverse("admin:knowledge_import")).status_code == 403
    assert client.post(reverse("admin:knowledge_preview"), {"text": "x"}).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(client: Client) -> None:
    response = client.get(reverse("admin:knowledge_test_search"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_upload_imports_in_the_background_and_reports_progress(admin_client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = "\n".join(f"Question number {n}?,Answer number {n}." for n in range(300)).encode()
    response = admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile("faq.csv", rows, content_type="text/csv"),
            "new_collection": "Uploaded",
            "format": "auto",
        },
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:knowledge_import_progress", args=[job.pk])
    progress = _wait_finished(admin_client, job.pk)
    assert progress["state"] == "done", progress
    assert progress["message"].startswith("300 created")
    collection = Collection.objects.get(name="Uploaded")
    (hit, *_) = passages_search(query="question number 17", collections=[collection])
    assert hit.answer == "Answer number 17."
    page = admin_client.get(reverse("admin:knowledge_import_progress", args=[job.pk]))
    assert "300 created" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_outcome_of_an_upload_is_worded_in_the_admins_language(admin_client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile(
                "faq.csv", "问题,答案\n怎么退货？,三十天内可退。\n".encode()
            ),
            "new_collection": "上传",
            "format": "auto",
        },
        headers={"accept-language": "zh-CN"},
    )
    progress = _wait_finished(admin_client, ImportJob.objects.get().pk)
    assert progress["message"] == "新建 1 条，更新 0 条，未变 0 条，删除 0 条；已索引 1 个段落。"


@pytest.mark.django_db(transaction=True)
def test_broken_upload_fails_with_the_line_and_imports_nothing(admin_client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    collection = Collection.objects.create(name="Kept", slug="kept")
    admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile("kb.jsonl", b'{"id": "a", "title": "ok"}\n{oops\n'),
            "collection": collection.pk,
            "format": "auto",
            "replace": "on",
        },
    )
    progress = _wait_finished(admin_client, ImportJob.objects.get().pk)
    assert progress["state"] == "failed"
    assert "kb.jsonl line 2" in progress["message"]
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("kb.jsonl", b'{"id": "a", "title": "ok"}\n{oops\n', "kb.jsonl 第 2 行：JSON 无效："),
        (
            "faq.csv",
            "返品できますか？,はい。\n".encode("shift_jis"),
            "faq.csv 第 1 行：文本编码不受支持（可用 UTF-8（带或不带 BOM）、带 BOM 的 UTF-16 "
            "或 GB18030/GBK）；请将文件另存为 UTF-8：在 Excel 中选择“另存为”，"
            "文件类型选“CSV UTF-8（逗号分隔）”",
        ),
        (
            "dup.csv",
            "怎么退货？,三十天内。\n怎么退货？,七天内。\n".encode(),
            "dup.csv 第 2 行：问题 '怎么退货？' 重复出现（首次在 dup.csv 第 1 行）",
        ),
        ("long.csv", f"{'问' * 501},答。\n".encode(), "long.csv 第 1 行：问题 超过 500 个字符"),
        ("title.md", "# 退货政策\n".encode(), "title.md：文档只有标题，没有可用于回答的正文"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_why_an_upload_failed_is_worded_in_the_admins_language(
    admin_client: Client, name: str, data: bytes, expected: str
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin_client.post(
        reverse("admin:knowledge_import"),
        {"file": SimpleUploadedFile(name, data), "new_collection": "上传", "format": "auto"},
        headers={"accept-language": "zh-CN"},
    )
    progress = _wait_finished(admin_client, ImportJob.objects.get().pk)
    assert progress["state"] == "failed"
    assert progress["message"].startswith(expected), progress["message"]


@pytest.mark.django_db(transaction=True)
def test_a_csv_saved_by_excel_on_chinese_windows_imports_and_says_how_it_was_read(
    admin_client: Client,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile(
                "faq.csv", "问题,答案\n怎么退货？,三十天内可退。\n".encode("gbk")
            ),
            "new_collection": "上传",
            "format": "auto",
        },
        headers={"accept-language": "zh-CN"},
    )
    progress = _wait_finished(admin_client, ImportJob.objects.get().pk)
    assert progress["state"] == "done", progress
    assert "按 GB18030（GBK）读取" in progress["message"]
    assert FAQEntry.objects.get().question == "怎么退货？"


@pytest.mark.django_db(transaction=True)
def test_a_failed_import_into_a_new_collection_leaves_none_and_the_retry_is_accepted(
    admin_client: Client,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(data: bytes) -> dict:
        admin_client.post(
            reverse("admin:knowledge_import"),
            {
                "file": SimpleUploadedFile("faq.csv", data),
                "new_collection": "New",
                "format": "auto",
            },
        )
        return _wait_finished(admin_client, ImportJob.objects.latest("pk").pk)

    failed = upload(b"q,a\nonly one column\n")
    assert failed["state"] == "failed"
    assert not Collection.objects.filter(name="New").exists()
    job = ImportJob.objects.get()
    assert (job.collection, str(job)) == (None, "faq.csv → New")
    page = admin_client.get(reverse("admin:knowledge_import")).content.decode()
    assert "<td>New</td>" in page
    # The retry is not refused as a duplicate name, and creates the collection.
    assert upload(b"Question?,Answer.\n")["state"] == "done"
    retry = ImportJob.objects.latest("pk")
    assert retry.collection == Collection.objects.get(name="New")
    assert retry.collection.faqs.get().answer == "Answer."


@pytest.mark.django_db(transaction=True)
def test_an_import_into_a_new_collection_another_upload_took_meanwhile_fails_cleanly(
    admin_client: Client,
) -> None:
    from apps.knowledge.services.import_jobs import import_job_create, import_job_run

    job = import_job_create(
        collection=None,
        new_collection="Taken",
        file_name="faq.csv",
        fmt="auto",
        replace=False,
        user_id=None,
    )
    taken = collection_create(name="Taken")
    import_job_run(job_id=job.pk, data=b"Question?,Answer.\n")
    job.refresh_from_db()
    assert job.state == "failed"
    assert "created meanwhile" in job.message
    assert not taken.faqs.exists()


@pytest.mark.parametrize("name", ["Kept", " Kept "])
def test_a_new_collection_named_like_an_existing_one_is_refused_on_the_form(
    admin_client: Client, name: str
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    Collection.objects.create(name="Kept", slug="kept")
    response = admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile("faq.csv", b"Question?,Answer.\n"),
            "new_collection": name,
            "format": "auto",
        },
    )
    assert response.status_code == 200
    assert "exists already" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_long_collection_name_gets_a_slug_that_fits() -> None:
    name = "知识库" * 66
    first, second = collection_create(name=name), collection_create(name=name + "!")
    assert len(first.slug) <= 100
    assert first.slug != second.slug


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_went_away_is_failed_not_polled_for_ever(
    admin_client: Client, collection: Collection
) -> None:
    import datetime as dt

    from django.utils import timezone

    from apps.knowledge.services.import_jobs import import_job_run

    # What a restart mid-import leaves: a running job that stopped saying it is alive.
    silent = timezone.now() - dt.timedelta(minutes=2)
    job = ImportJob.objects.create(
        collection=collection, file_name="faq.csv", format="csv", state="running", alive_at=silent
    )
    url = reverse("admin:knowledge_import_progress", args=[job.pk])
    progress = admin_client.get(url, {"format": "json"}).json()
    assert (progress["state"], progress["finished"]) == ("failed", True)
    assert "restarted" in progress["message"]
    # A thread that turns up after all does not turn "upload it again" into "done".
    import_job_run(job_id=job.pk, data=b"Question?,Answer.\n")
    job.refresh_from_db()
    assert (job.state, "restarted" in job.message) == ("failed", True)
    assert not FAQEntry.objects.exists()
    # One alive, on this worker or another, is left running.
    alive = ImportJob.objects.create(
        collection=collection,
        file_name="big.md",
        format="md",
        state="running",
        alive_at=timezone.now(),
    )
    url = reverse("admin:knowledge_import_progress", args=[alive.pk])
    assert admin_client.get(url, {"format": "json"}).json()["state"] == "running"


def _wait_finished(client: Client, job_id: int) -> dict:
    url = reverse("admin:knowledge_import_progress", args=[job_id])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        progress = client.get(url, {"format": "json"}).json()
        if progress["finished"]:
            return progress
        time.sleep(0.05)  # polling the real background thread, as the page does
    raise AssertionError("the import did not finish within 30 s")


def test_public_article_page_renders_published_markdown_safely(
    client: Client, collection: Collection
) -> None:
    from apps.knowledge.services.content import article_create

    article = article_create(
        collection=collection,
        title="Care",
        body="## Cleaning\nUse a *dry* cloth. <script>alert(1)</script>",
        language="en",
        status=Status.PUBLISHED,
    )
    page = client.get(f"/kb/{collection.slug}/{article.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<h2>Cleaning</h2>" in html
    assert "<em>dry</em>" in html
    assert "<script>alert" not in html
    draft = article_create(collection=collection, title="Draft", body="x", language="en")
    assert client.get(f"/kb/{collection.slug}/{draft.pk}/").status_code == 404
    assert client.get(f"/kb/other-slug/{article.pk}/").status_code == 404


def test_faq_citation_link_opens_the_faq_page(client: Client, help_centre: Collection) -> None:
    (hit, *_) = passages_search(query="warranty", collections=[help_centre])
    page = client.get(hit.url)
    assert page.status_code == 200
    assert "Lamps have a 2-year warranty." in page.content.decode()


def test_deleting_a_collection_in_admin_takes_its_content_out_of_search(
    admin_client: Client, help_centre: Collection
) -> None:
    from apps.knowledge.models import Passage

    response = admin_client.post(
        reverse("admin:knowledge_collection_delete", args=[help_centre.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Collection.objects.filter(pk=help_centre.pk).exists()
    assert not Passage.objects.exists()
    assert passages_search(query="refund", collections=[help_centre.pk]) == []


def test_the_progress_page_names_state_and_phase_in_the_admins_language(
    admin_client: Client, collection: Collection
) -> None:
    from django.core.cache import cache
    from django.utils import timezone

    job = ImportJob.objects.create(
        collection=collection,
        file_name="faq.csv",
        format="csv",
        state="running",
        alive_at=timezone.now(),
    )
    cache.set(f"knowledge:import:{job.pk}", {"phase": "indexing", "done": 1, "total": 2})
    url = reverse("admin:knowledge_import_progress", args=[job.pk])
    chinese = {"accept-language": "zh-CN"}
    progress = admin_client.get(url, {"format": "json"}, headers=chinese).json()
    assert (progress["state"], progress["phase"]) == ("running", "indexing")
    assert (progress["state_label"], progress["phase_label"]) == ("进行中", "正在索引")
    page = admin_client.get(url, headers=chinese).content.decode()
    assert '<span id="kb-phase">正在索引</span>' in page
    # The polling writes the labels, not the codes.
    assert "p.state_label" in page
    assert "p.phase_label" in page
    assert "textContent = p.state;" not in page
