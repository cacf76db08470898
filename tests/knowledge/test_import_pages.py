"""The upload pages as an admin reads them: titles that say how an import ended, a form that
needs no choice it could make itself, and refusals that say what to do."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.knowledge.models import Collection, ImportJob
from apps.knowledge.services.content import collection_create

pytestmark = pytest.mark.django_db

CHINESE = {"accept-language": "zh-CN"}


def _progress_url(job: ImportJob) -> str:
    return reverse("admin:knowledge_import_progress", args=[job.pk])


@pytest.mark.parametrize(
    ("state", "english", "chinese"),
    [
        ("running", "Importing faq.csv", "正在导入 faq.csv"),
        ("review", "Confirm the import of faq.csv", "确认导入 faq.csv"),
        ("done", "Imported faq.csv", "已导入 faq.csv"),
        ("failed", "Import of faq.csv failed", "导入 faq.csv 失败"),
        ("cancelled", "Import of faq.csv cancelled", "已取消导入 faq.csv"),
    ],
)
def test_the_progress_page_title_says_how_the_import_stands(
    admin_client: Client, collection: Collection, state: str, english: str, chinese: str
) -> None:
    from django.utils import timezone

    job = ImportJob.objects.create(
        collection=collection,
        file_name="faq.csv",
        format="csv",
        state=state,
        alive_at=timezone.now(),
        finished_at=None if state in ("running", "review") else timezone.now(),
    )
    for headers, title in (({}, english), (CHINESE, chinese)):
        page = admin_client.get(_progress_url(job), headers=headers).content.decode()
        assert f'<h1 id="kb-title">{title}</h1>' in page
        assert f"<title>{title} |" in page
        progress = admin_client.get(_progress_url(job), {"format": "json"}, headers=headers)
        assert progress.json()["title"] == title


def test_the_only_collection_is_chosen_for_the_admin(admin_client: Client) -> None:
    only = collection_create(name="Help centre")
    form = admin_client.get(reverse("admin:knowledge_import")).context["form"]
    assert form["collection"].value() == only.pk
    assert f'<option value="{only.pk}" selected>' in str(form["collection"])

    collection_create(name="Other")
    form = admin_client.get(reverse("admin:knowledge_import")).context["form"]
    assert form["collection"].value() is None


def test_a_refused_form_says_the_file_must_be_chosen_again(admin_client: Client) -> None:
    Collection.objects.create(name="Kept", slug="kept")
    upload = SimpleUploadedFile("faq.csv", b"Question?,Answer.\n")
    response = admin_client.post(
        reverse("admin:knowledge_import"),
        {"file": upload, "new_collection": "Kept", "format": "auto"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "Choose the file again: it is not kept when the form is refused."
    ]
    upload = SimpleUploadedFile("faq.csv", b"Question?,Answer.\n")
    response = admin_client.post(
        reverse("admin:knowledge_import"),
        {"file": upload, "new_collection": "Kept", "format": "auto"},
        headers=CHINESE,
    )
    assert response.context["form"].errors["file"] == [
        "请重新选择文件：表单未通过时，浏览器不会保留已选的文件。"
    ]
    assert not ImportJob.objects.exists()


def _office_file(part: str) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return data.getvalue()


@pytest.mark.parametrize(
    ("name", "part", "fmt", "english", "chinese"),
    [
        (
            "faq.csv",
            "xl/workbook.xml",
            "auto",
            "faq.csv is an Excel workbook (.xlsx) with another file name, not text",
            "faq.csv 是改了文件名的 Excel 工作簿（.xlsx），不是文本",
        ),
        (
            "faq.txt",
            "xl/workbook.xml",
            "auto",
            "faq.txt is an Excel workbook (.xlsx) with another file name, not text",
            "faq.txt 是改了文件名的 Excel 工作簿（.xlsx），不是文本",
        ),
        (
            "guide.txt",
            "word/document.xml",
            "auto",
            "guide.txt is a Word document (.docx) with another file name",
            "guide.txt 是改了文件名的 Word 文档（.docx）",
        ),
        (
            "kb.bin",
            "data.bin",
            "csv",
            "kb.bin is a ZIP archive (perhaps a spreadsheet or Word file with the wrong file name)",
            "kb.bin 是 ZIP 压缩包",
        ),
    ],
)
def test_a_renamed_spreadsheet_or_word_file_is_refused_for_what_it_is(
    admin_client: Client,
    collection: Collection,
    name: str,
    part: str,
    fmt: str,
    english: str,
    chinese: str,
) -> None:
    for headers, expected in (({}, english), (CHINESE, chinese)):
        response = admin_client.post(
            reverse("admin:knowledge_import"),
            {
                "file": SimpleUploadedFile(name, _office_file(part)),
                "collection": collection.pk,
                "format": fmt,
            },
            headers=headers,
        )
        assert response.status_code == 200
        [error] = response.context["form"].errors["file"]
        assert error.startswith(expected), error
        assert "encoding" not in error
    assert not ImportJob.objects.exists()


def test_a_real_docx_upload_is_not_taken_for_a_renamed_one(
    admin_client: Client, collection: Collection
) -> None:
    response = admin_client.post(
        reverse("admin:knowledge_import"),
        {
            "file": SimpleUploadedFile("guide.docx", _office_file("word/document.xml")),
            "collection": collection.pk,
            "format": "auto",
        },
    )
    assert response.status_code == 302
    assert ImportJob.objects.get().file_name == "guide.docx"
