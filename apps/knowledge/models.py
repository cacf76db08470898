from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    CHINESE = "zh-hans", "简体中文"


class Status(models.TextChoices):
    DRAFT = "draft", _("draft")
    PUBLISHED = "published", _("published")
    ARCHIVED = "archived", _("archived")


class Collection(models.Model):
    """A named knowledge base; a site answers from the collections linked to it."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True, allow_unicode=True)
    description = models.TextField(_("description"), blank=True)
    sites = models.ManyToManyField(
        "sites.Site",
        blank=True,
        related_name="knowledge_collections",
        verbose_name=_("sites"),
        help_text=_("The sites whose bot answers from this collection."),
    )
    # Bumped by every content change; search indexes and answer caches key on it.
    version = models.PositiveBigIntegerField(_("version"), default=0, editable=False)
    # Tombstones up to this revision were deleted: an index older than that rebuilds in full.
    pruned_revision = models.PositiveBigIntegerField(
        _("pruned revision"), default=0, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """A help-centre page written in Markdown; published articles are split into passages."""

    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="articles", verbose_name=_("collection")
    )
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(
        _("body"), blank=True, help_text=_("Markdown. Headings split passages.")
    )
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    external_id = models.CharField(
        _("external id"),
        max_length=200,
        blank=True,
        help_text=_("The id in the system it was imported from; re-imports update by this id."),
    )
    source = models.CharField(
        _("source"),
        max_length=300,
        blank=True,
        help_text=_("Where it came from, e.g. a file name."),
    )
    source_url = models.URLField(
        _("public URL"),
        max_length=500,
        blank=True,
        help_text=_("The page visitors are sent to when cited; empty: csbot's own article page."),
    )
    tags = models.CharField(_("tags"), max_length=300, blank=True, help_text=_("Comma-separated."))
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["collection", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "external_id"],
                condition=~models.Q(external_id=""),
                name="knowledge_article_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse(
            "knowledge:article", kwargs={"collection": self.collection.slug, "article_id": self.pk}
        )

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


class FAQEntry(models.Model):
    """A question with its curated answer; a confident match is answered directly."""

    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="faqs", verbose_name=_("collection")
    )
    question = models.CharField(_("question"), max_length=500)
    alternatives = models.TextField(
        _("alternative phrasings"),
        blank=True,
        help_text=_("Other ways customers ask the same thing, one per line."),
    )
    answer = models.TextField(_("answer"), help_text=_("Markdown."))
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
    tags = models.CharField(_("tags"), max_length=300, blank=True, help_text=_("Comma-separated."))
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ["collection", "question"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "external_id"],
                condition=~models.Q(external_id=""),
                name="knowledge_faq_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return self.question

    @property
    def alternative_list(self) -> list[str]:
        return [line.strip() for line in self.alternatives.splitlines() if line.strip()]


class Passage(models.Model):
    """A searchable chunk of a published article or FAQ entry, with its tokens pre-computed."""

    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="passages", verbose_name=_("collection")
    )
    article = models.ForeignKey(
        Article,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="passages",
        verbose_name=_("article"),
    )
    faq = models.ForeignKey(
        FAQEntry,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="passages",
        verbose_name=_("FAQ entry"),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=500)
    heading_path = models.JSONField(_("heading path"), default=list, blank=True)
    text = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    # The analyzer's output, space-separated; re-computed when the dictionary or synonyms change.
    tokens = models.TextField(_("search terms"), blank=True)
    # The collection version that last wrote this row; indexes load rows newer than theirs.
    revision = models.PositiveBigIntegerField(_("revision"), default=0)
    embedding = models.BinaryField(_("vector"), null=True, blank=True)
    embedding_model = models.CharField(_("embedding model"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("passage")
        verbose_name_plural = _("passages")
        ordering = ["collection", "id"]
        indexes = [models.Index(fields=["collection", "revision"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(article__isnull=False, faq__isnull=True)
                | models.Q(article__isnull=True, faq__isnull=False),
                name="knowledge_passage_one_source",
            )
        ]

    def __str__(self) -> str:
        return " › ".join([self.title, *self.heading_path])


class PassageTombstone(models.Model):
    """Records a deleted passage so that running indexes can drop it incrementally."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    passage_id = models.PositiveBigIntegerField()
    revision = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["collection", "revision"])]

    def __str__(self) -> str:
        return f"passage {self.passage_id} deleted at revision {self.revision}"


class TuningState(models.Model):
    """The single row whose version changes whenever the dictionary, synonyms or patterns do."""

    version = models.PositiveBigIntegerField(default=0)
    # The ``ANALYZER_VERSION`` every stored passage's terms were computed with (0: before it
    # was recorded); ``passages_reanalyze_if_outdated`` brings them up to date.
    analyzer_version = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"tuning version {self.version}"


class DictionaryWord(models.Model):
    """An extra word for the Chinese segmenter, e.g. a product name."""

    word = models.CharField(_("word"), max_length=100, unique=True)
    frequency = models.PositiveIntegerField(
        _("frequency"),
        null=True,
        blank=True,
        help_text=_("Optional: higher keeps the word whole more often. Empty: just enough."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("dictionary word")
        verbose_name_plural = _("dictionary words")
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word

    def clean(self) -> None:
        self.word = self.word.strip()
        if not self.word or re.search(r"\s", self.word):
            raise ValidationError({"word": _("A dictionary word has no spaces.")})


SYNONYM_SEPARATOR = re.compile(r"\s*[=\n,，、]\s*")


class SynonymGroup(models.Model):
    """Terms that mean the same to the search, e.g. 退款 = 退钱 = refund."""

    terms = models.CharField(
        _("terms"),
        max_length=500,
        help_text=_("Two or more terms separated by '=', e.g. 退款 = 退钱 = refund."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("synonym group")
        verbose_name_plural = _("synonym groups")
        ordering = ["terms"]

    def __str__(self) -> str:
        return " = ".join(self.term_list)

    @property
    def term_list(self) -> list[str]:
        return [term.strip() for term in SYNONYM_SEPARATOR.split(self.terms) if term.strip()]

    def clean(self) -> None:
        terms = {term.casefold() for term in self.term_list}
        if len(terms) < 2:
            raise ValidationError({"terms": _("Give at least two different terms.")})
        for other in SynonymGroup.objects.exclude(pk=self.pk):
            if terms <= {term.casefold() for term in other.term_list}:
                raise ValidationError(
                    {
                        "terms": _("The group “%(group)s” already has these terms.")
                        % {"group": other}
                    }
                )


class ProtectedPattern(models.Model):
    """A regular expression whose matches (SKUs, order numbers) are searched as exact tokens."""

    name = models.CharField(_("name"), max_length=100)
    pattern = models.CharField(
        _("pattern"),
        max_length=300,
        help_text=_(
            r"A Python regular expression, matched case-insensitively, e.g. [A-Z]{2}-\d{4}."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("protected token pattern")
        verbose_name_plural = _("protected token patterns")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.pattern}"

    def clean(self) -> None:
        try:
            compiled = re.compile(self.pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValidationError({"pattern": _("Not a valid pattern: %s") % exc}) from exc
        if compiled.fullmatch(""):
            raise ValidationError({"pattern": _("The pattern must not match empty text.")})


class ImportJob(models.Model):
    """One import run started from the admin; its progress is polled by the upload page."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        # A replace import that would remove entries waits here for an admin to confirm.
        REVIEW = "review", _("awaiting confirmation")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    # None until an import into a new collection (collection_name) succeeds: the collection
    # is created in the import's transaction, so a failed import leaves none behind.
    collection = models.ForeignKey(
        Collection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="import_jobs",
        verbose_name=_("collection"),
    )
    collection_name = models.CharField(_("new collection name"), max_length=200, blank=True)
    file_name = models.CharField(_("file name"), max_length=300)
    format = models.CharField(_("format"), max_length=10)
    replace = models.BooleanField(_("replace"), default=False)
    state = models.CharField(
        _("status"), max_length=10, choices=State.choices, default=State.PENDING
    )
    done = models.PositiveIntegerField(_("entries processed"), default=0)
    total = models.PositiveIntegerField(_("entries in all"), default=0)
    message = models.TextField(_("outcome"), blank=True)
    # The plan a replace import awaits confirmation of, then what it removed (services.import_jobs).
    report = models.JSONField(_("report"), default=dict, blank=True)
    # The uploaded file, kept while a replace import may still need it; cleared when it ends.
    data = models.BinaryField(_("file contents"), null=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Written every few seconds while the import runs (services.import_jobs): a job whose worker
    # went away stops updating it.
    alive_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} → {self.collection_label}"

    @property
    def collection_label(self) -> str:
        """The collection imported into, or the name of the new one it is to create."""
        return str(self.collection) if self.collection is not None else self.collection_name
