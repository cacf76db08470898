"""A replace upload shows what it would remove and waits for an admin to confirm it."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.knowledge.models import Article, Collection, FAQEntry, ImportJob, Status
from apps.knowledge.services.content import faq_create
from apps.knowledge.services.import_jobs import import_job_create

# The import runs in a real background thread, which needs committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

TWO_ROWS = b"Do you ship abroad?,To 30 countries.\nCan I pay by card?,Yes.\n"
HELP_CENTRE_TITLES = [
    "Returns and refunds",
    "配送说明",
    "How long is the warranty?",
    "退款多久到账？",
]


def _upload(client: Client, collection: Collection, data: bytes = TWO_ROWS) -> ImportJob:
    client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile("faq.csv", data),
            "collection": collection.pk,
            "format": "auto",
            "replace": "on",
        },
    )
    return _wait_settled(client, ImportJob.objects.latest("pk").pk)


def _review(client: Client, job: ImportJob, action: str) -> ImportJob:
    url = reverse("admin:knowledge_import_review", args=[job.pk])
    response = client.post(url, {"action": action})
    assert response.status_code == 302
    return _wait_settled(client, job.pk)


def _wait_settled(client: Client, job_id: int) -> ImportJob:
    """Poll as the page does until the job finished or waits for confirmation."""
    url = reverse("admin:knowledge_import_progress", args=[job_id])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        progress = client.get(url, {"format": "json"}).json()
        if progress["finished"] or progress["state"] == "review":
            return ImportJob.objects.get(pk=job_id)
        time.sleep(0.05)  # polling the real background thread
    raise AssertionError("the import did not settle within 30 s")


def _entries(collection: Collection) -> list[str]:
    articles = collection.articles.values_list("title", flat=True)
    return sorted([*articles, *collection.faqs.values_list("question", flat=True)])


def test_a_replace_upload_shows_what_it_would_remove_and_removes_it_once_confirmed(
    admin_client: Client, admin_user: object, help_centre: Collection
) -> None:
    job = _upload(admin_client, help_centre)
    assert job.state == ImportJob.State.REVIEW
    assert _entries(help_centre) == sorted(HELP_CENTRE_TITLES)  # nothing removed yet
    page = admin_client.get(reverse("admin:knowledge_import_progress", args=[job.pk]))
    text = page.content.decode()
    assert "creates 2 entries, updates 0 and leaves 0 unchanged" in text
    assert "<strong>deletes 4 entries</strong>" in text
    for title in HELP_CENTRE_TITLES:
        assert title in text
    assert "Delete 4 entries and import" in text

    job = _review(admin_client, job, "confirm")
    assert job.state == ImportJob.State.DONE, job.message
    assert job.message.startswith("2 created, 0 updated, 0 unchanged, 4 removed")
    assert _entries(help_centre) == ["Can I pay by card?", "Do you ship abroad?"]
    # Traceable: the job's report and the admin's history name every removed entry.
    assert sorted(r["title"] for r in job.report["removals"]) == sorted(HELP_CENTRE_TITLES)
    assert job.report["confirmed_by"] == admin_user.pk  # type: ignore[attr-defined]
    logged = LogEntry.objects.filter(action_flag=DELETION)
    assert sorted(logged.values_list("object_repr", flat=True)) == sorted(HELP_CENTRE_TITLES)
    assert {e.user_id for e in logged} == {admin_user.pk}  # type: ignore[attr-defined]
    assert {e.change_message for e in logged} == {"Removed by a replace import of faq.csv."}
    assert job.data is None  # the upload is not kept once the job ends
    page = admin_client.get(reverse("admin:knowledge_import_progress", args=[job.pk]))
    assert "Entries this import removed" in page.content.decode()


def test_a_cancelled_replace_upload_changes_nothing(
    admin_client: Client, help_centre: Collection
) -> None:
    job = _review(admin_client, _upload(admin_client, help_centre), "cancel")
    assert (job.state, job.data) == (ImportJob.State.CANCELLED, None)
    assert "nothing was imported or removed" in job.message
    assert _entries(help_centre) == sorted(HELP_CENTRE_TITLES)
    assert not LogEntry.objects.exists()
    # Confirming it afterwards does nothing either.
    job = _review(admin_client, job, "confirm")
    assert job.state == ImportJob.State.CANCELLED
    assert _entries(help_centre) == sorted(HELP_CENTRE_TITLES)


def test_a_collection_that_changed_after_the_review_is_reviewed_again(
    admin_client: Client, help_centre: Collection
) -> None:
    job = _upload(admin_client, help_centre)
    faq_create(
        collection=help_centre,
        question="Gift wrap?",
        answer="Free.",
        language="en",
        status=Status.PUBLISHED,
    )
    job = _review(admin_client, job, "confirm")
    # The admin agreed to delete four entries, not the one added since.
    assert job.state == ImportJob.State.REVIEW
    assert job.report["removed"] == 5
    assert job.report["changed"] is True
    assert "Gift wrap?" in _entries(help_centre)
    assert len(_entries(help_centre)) == 5
    page = admin_client.get(reverse("admin:knowledge_import_progress", args=[job.pk]))
    assert "The collection changed after you confirmed" in page.content.decode()
    assert _review(admin_client, job, "confirm").state == ImportJob.State.DONE
    assert _entries(help_centre) == ["Can I pay by card?", "Do you ship abroad?"]


def test_a_replace_upload_that_removes_nothing_needs_no_confirmation(
    admin_client: Client, collection: Collection
) -> None:
    assert _upload(admin_client, collection).state == ImportJob.State.DONE
    again = _upload(admin_client, collection, TWO_ROWS + b"Gift wrap?,Free.\n")
    assert again.state == ImportJob.State.DONE
    assert again.message.startswith("1 created, 0 updated, 2 unchanged, 0 removed")


def test_an_import_awaiting_confirmation_is_not_failed_as_silent(
    admin_client: Client, help_centre: Collection
) -> None:
    job = _upload(admin_client, help_centre)
    ImportJob.objects.filter(pk=job.pk).update(alive_at=timezone.now() - dt.timedelta(hours=1))
    url = reverse("admin:knowledge_import_progress", args=[job.pk])
    assert admin_client.get(url, {"format": "json"}).json()["state"] == "review"


def test_an_import_left_unconfirmed_for_a_day_is_cancelled_and_its_file_dropped(
    admin_client: Client, help_centre: Collection
) -> None:
    job = _upload(admin_client, help_centre)
    ImportJob.objects.filter(pk=job.pk).update(alive_at=timezone.now() - dt.timedelta(days=2))
    import_job_create(
        collection=help_centre, file_name="other.csv", fmt="auto", replace=False, user_id=None
    )
    job.refresh_from_db()
    assert (job.state, job.data) == (ImportJob.State.CANCELLED, None)
    assert _entries(help_centre) == sorted(HELP_CENTRE_TITLES)


def test_confirming_removals_needs_permission_to_delete_entries(
    client: Client, django_user_model: type, help_centre: Collection, admin_client: Client
) -> None:
    job = _upload(admin_client, help_centre)
    importer = django_user_model.objects.create_user(username="editor", is_staff=True)
    importer.user_permissions.set(
        Permission.objects.filter(codename__in=["add_article", "view_importjob"])
    )
    client.force_login(importer)
    url = reverse("admin:knowledge_import_review", args=[job.pk])
    assert client.post(url, {"action": "confirm"}).status_code == 403
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.REVIEW
    assert Article.objects.count() + FAQEntry.objects.count() == 4
    # Delete rights alone do not run the import's additions and changes either.
    importer.user_permissions.set(
        Permission.objects.filter(
            codename__in=["add_article", "view_importjob", "delete_article", "delete_faqentry"]
        )
    )
    importer = django_user_model.objects.get(pk=importer.pk)  # permissions are cached
    client.force_login(importer)
    assert client.post(url, {"action": "confirm"}).status_code == 403
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.REVIEW
    # Cancelling deletes nothing: the uploader may.
    assert client.post(url, {"action": "cancel"}).status_code == 302
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.CANCELLED


def test_the_review_is_worded_in_the_admins_language(
    admin_client: Client, help_centre: Collection
) -> None:
    job = _upload(admin_client, help_centre)
    url = reverse("admin:knowledge_import_progress", args=[job.pk])
    text = admin_client.get(url, headers={"accept-language": "zh-CN"}).content.decode()
    assert "导入此文件将新建 2 条、更新 0 条、0 条不变" in text
    assert "<strong>删除文件中没有的 4 个条目</strong>" in text
    assert "删除 4 个条目并导入" in text
    assert "等待确认" in text


def test_the_import_record_shows_the_plan_not_the_uploaded_file(
    admin_client: Client, help_centre: Collection
) -> None:
    job = _upload(admin_client, help_centre, TWO_ROWS + b"Secret row?,KEPT-IN-THE-FILE.\n")
    page = admin_client.get(reverse("admin:knowledge_importjob_change", args=[job.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Returns and refunds" in text  # the report
    assert "KEPT-IN-THE-FILE" not in text
