"""Admin pages beyond CRUD: test search, file import with progress, Markdown preview."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.knowledge.importers import FORMATS, TEXT_FORMATS, format_detect
from apps.knowledge.importers.encodings import renamed_archive
from apps.knowledge.models import Collection, ImportJob
from apps.knowledge.rendering import markdown_render
from apps.knowledge.selectors import kb_version, passages_search
from apps.knowledge.services.import_jobs import (
    import_job_cancel,
    import_job_confirm,
    import_job_create,
    import_job_progress,
    import_job_start,
)
from apps.knowledge.services.imports import REVIEW_TITLES

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class TestSearchForm(forms.Form):
    query = forms.CharField(label=_("Question"), max_length=2000)
    collections = forms.ModelMultipleChoiceField(
        label=_("Collections"),
        queryset=Collection.objects.all(),
        required=False,
        help_text=_("None selected: all collections."),
    )
    limit = forms.IntegerField(label=_("Results"), min_value=1, max_value=50, initial=10)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File"))
    collection = forms.ModelChoiceField(
        label=_("Collection"), queryset=Collection.objects.all(), required=False
    )
    new_collection = forms.CharField(
        label=_("…or a new collection named"), max_length=200, required=False
    )
    format = forms.ChoiceField(
        label=_("Format"), choices=[("auto", _("from the file name"))] + [(f, f) for f in FORMATS]
    )
    replace = forms.BooleanField(
        label=_("Replace: delete the collection's entries that are not in this file"),
        help_text=_("You will see what would be deleted, and confirm it, before anything is."),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # With one collection there is nothing to choose: an upload goes there unless the
        # admin names a new one.
        only = list(Collection.objects.order_by("pk")[:2])
        if len(only) == 1:
            self.fields["collection"].initial = only[0].pk

    def clean_new_collection(self) -> str:
        name = self.cleaned_data["new_collection"].strip()
        if name and Collection.objects.filter(name=name).exists():
            raise forms.ValidationError(
                _("A collection named %(name)s exists already: choose it above."),
                params={"name": name},
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("collection") and not data.get("new_collection"):
            raise forms.ValidationError(_("Choose a collection or name a new one."))
        upload = data.get("file")
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        if upload is not None and (renamed := _renamed_archive(upload, data.get("format"))):
            self.add_error("file", renamed)
        return data


def _renamed_archive(upload: UploadedFile, fmt: str | None) -> str | None:
    """Why a file to be read as text is refused on the form already when it is a ZIP archive."""
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    if fmt in (None, "auto"):
        fmt = format_detect(upload.name or "", head)
    if fmt not in TEXT_FORMATS:
        return None
    try:
        return renamed_archive(upload, name=upload.name or "")
    finally:
        upload.seek(0)


def _context(request: HttpRequest, title: str | Promise, **extra: object) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, "opts": Collection._meta, **extra}


def test_search(request: HttpRequest) -> HttpResponse:
    """Type a question, see the ranked passages, their scores, and why each matched."""
    if not request.user.has_perm("knowledge.view_article"):
        raise PermissionDenied
    form = TestSearchForm(request.GET or None)
    hits, version = [], ""
    if form.is_valid():
        collections = list(form.cleaned_data["collections"]) or list(Collection.objects.all())
        hits = passages_search(
            query=form.cleaned_data["query"],
            collections=collections,
            limit=form.cleaned_data["limit"],
        )
        version = kb_version(collections=collections)
    return render(
        request,
        "admin/knowledge/test_search.html",
        _context(request, _("Test search"), form=form, hits=hits, version=version),
    )


def import_upload(request: HttpRequest) -> HttpResponse:
    """Upload a file into a collection; the import runs in the background with a progress bar."""
    if not request.user.has_perm("knowledge.add_article"):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job = import_job_create(
            collection=form.cleaned_data["collection"],
            new_collection=form.cleaned_data["new_collection"],
            file_name=upload.name,
            fmt=form.cleaned_data["format"],
            replace=form.cleaned_data["replace"],
            user_id=request.user.pk,
        )
        import_job_start(job=job, data=upload.read())
        return redirect("admin:knowledge_import_progress", job_id=job.pk)
    if form.errors and form.cleaned_data.get("file") is not None:
        # A browser cannot put a file back into a file input: the page must say so, or the
        # admin sends the corrected form without it.
        form.add_error(
            "file",
            _("Choose the file again: it is not kept when the form is refused."),
        )
    jobs = ImportJob.objects.select_related("collection")[:10]
    return render(
        request,
        "admin/knowledge/import.html",
        _context(request, _("Import knowledge"), form=form, jobs=jobs),
    )


# The progress page's title for each state; any other state is still on its way.
_JOB_TITLES = {
    ImportJob.State.REVIEW: _("Confirm the import of %(name)s"),
    ImportJob.State.DONE: _("Imported %(name)s"),
    ImportJob.State.FAILED: _("Import of %(name)s failed"),
    ImportJob.State.CANCELLED: _("Import of %(name)s cancelled"),
}


def _job_title(job: ImportJob) -> str:
    return str(_JOB_TITLES.get(job.state, _("Importing %(name)s"))) % {"name": job.file_name}


def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's page; with ``?format=json`` just its progress, for the page's polling."""
    if not request.user.has_perm("knowledge.view_importjob"):
        raise PermissionDenied
    job = get_object_or_404(ImportJob.objects.select_related("collection"), pk=job_id)
    progress = import_job_progress(job=job)
    if request.GET.get("format") == "json":
        # The page retitles itself when the job ends while it is open.
        return JsonResponse({**progress, "title": _job_title(job)})
    removals = job.report.get("removals", [])
    return render(
        request,
        "admin/knowledge/import_progress.html",
        _context(
            request,
            _job_title(job),
            job=job,
            progress=progress,
            reviewing=job.state == ImportJob.State.REVIEW,
            removals=removals[:REVIEW_TITLES],
            more_removals=max(len(removals) - REVIEW_TITLES, 0),
        ),
    )


@require_POST
def import_review(request: HttpRequest, job_id: int) -> HttpResponse:
    """Confirm or cancel a replace import that waits to remove the entries it listed."""
    job = get_object_or_404(ImportJob, pk=job_id)
    if request.POST.get("action") == "confirm":
        # Confirming runs the whole import, deletions included: the admin must be allowed to
        # add, change and delete entries.
        allowed = request.user.has_perms(
            [
                f"knowledge.{action}_{model}"
                for action in ("add", "change", "delete")
                for model in ("article", "faqentry")
            ]
        )
        if not allowed or request.user.pk is None:
            raise PermissionDenied
        done = import_job_confirm(job=job, user_id=request.user.pk)
    else:
        if not request.user.has_perm("knowledge.add_article"):
            raise PermissionDenied
        done = import_job_cancel(job=job)
    if not done:
        messages.warning(request, _("This import no longer awaits confirmation."))
    return redirect("admin:knowledge_import_progress", job_id=job.pk)


@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """Render the Markdown being edited, sanitised exactly as visitors will see it."""
    if not request.user.has_perm("knowledge.change_article"):
        raise PermissionDenied
    return HttpResponse(markdown_render(request.POST.get("text", "")[:200_000]))
