from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.bot.guard import term_key
from apps.sites.models import Site

# Calibrated on faq-dev (docs/answering.md, "Calibration"); a site's own row overrides them.
DEFAULT_FAQ_THRESHOLD = 0.80
DEFAULT_ANSWER_THRESHOLD = 0.50

_PROBABILITY = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class BotSettings(models.Model):
    """How one site's bot answers. A site without a row uses the defaults."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, related_name="bot_settings", verbose_name=_("site")
    )
    persona = models.TextField(
        _("persona"),
        blank=True,
        help_text=_(
            "Who the assistant is and how it speaks, e.g. “You are Lumi, the friendly "
            "assistant of Lumen & Co.” Goes into the model's instructions; it cannot "
            "override the rules about answering only from the knowledge base."
        ),
    )
    faq_threshold = models.FloatField(
        _("FAQ direct-answer confidence"),
        default=DEFAULT_FAQ_THRESHOLD,
        validators=_PROBABILITY,
        help_text=_("An FAQ entry matched at least this confidently is answered as written."),
    )
    answer_threshold = models.FloatField(
        _("answer confidence"),
        default=DEFAULT_ANSWER_THRESHOLD,
        validators=_PROBABILITY,
        help_text=_("Below this the bot says it does not know and offers a human."),
    )
    strict_citations = models.BooleanField(
        _("strict citations"),
        default=True,
        help_text=_(
            "An answer must cite the knowledge base: the visitor sees nothing until the model has "
            "cited a passage, and an answer without a valid citation is replaced by “I "
            "don't know”."
        ),
    )
    max_passages = models.PositiveSmallIntegerField(
        _("passages per answer"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    memory_tokens = models.PositiveIntegerField(
        _("conversation memory (tokens)"),
        default=800,
        help_text=_("How much of the recent conversation the model sees; 0 for none."),
    )
    cache_seconds = models.PositiveIntegerField(
        _("answer cache (seconds)"),
        default=24 * 3600,
        help_text=_(
            "Reuse an answer to the same question while the knowledge base is unchanged; 0 turns "
            "the cache off."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("bot settings")
        verbose_name_plural = _("bot settings")

    def __str__(self) -> str:
        return str(self.site)


class SensitiveTerm(models.Model):
    """A word or phrase the guard watches for in questions, answers and the knowledge base."""

    class Category(models.TextChoices):
        POLITICS = "politics", _("politics")
        SEXUAL = "sexual", _("sexual content")
        VIOLENCE = "violence", _("violence or terror")
        ILLEGAL = "illegal", _("illegal goods or services")
        ABUSE = "abuse", _("abuse or insults")
        PERSONAL_DATA = "personal_data", _("personal data")
        COMPETITOR = "competitor", _("competitors")
        OTHER = "other", _("other")

    class Action(models.TextChoices):
        BLOCK = "block", _("block: refuse and say so")
        MASK = "mask", _("mask: replace with ＊")
        HANDOFF = "handoff", _("hand off: refuse and call a human")

    term = models.CharField(
        _("term"),
        max_length=100,
        help_text=_(
            "Matched ignoring case and full/half width. Chinese terms also match with spaces or "
            "punctuation between their characters; other terms match whole words."
        ),
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    action = models.CharField(
        _("action"), max_length=10, choices=Action.choices, default=Action.BLOCK
    )
    site = models.ForeignKey(
        Site,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sensitive_terms",
        verbose_name=_("site"),
        help_text=_("Empty: every site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("sensitive term")
        verbose_name_plural = _("sensitive terms")
        ordering = ["category", "term"]
        constraints = [
            models.UniqueConstraint(
                fields=["term", "site"],
                condition=models.Q(site__isnull=False),
                name="bot_sensitive_term_unique_per_site",
            ),
            models.UniqueConstraint(
                fields=["term"],
                condition=models.Q(site__isnull=True),
                name="bot_sensitive_term_unique_global",
            ),
        ]

    def __str__(self) -> str:
        return self.term

    def clean(self) -> None:
        # The matcher folds case and width: "Taobao" beside "taobao" would be one term listed
        # twice, perhaps with two actions.
        key = term_key(self.term)
        same_scope = SensitiveTerm.objects.filter(site=self.site_id).exclude(pk=self.pk)
        for other in same_scope.values_list("term", flat=True):
            if term_key(other) == key:
                message = _("This term is already listed as “%(other)s”.")
                raise ValidationError({"term": message % {"other": other}})


class GuardEvent(models.Model):
    """One guard verdict: what matched, where, and what was done about it (the audit trail)."""

    class Source(models.TextChoices):
        INPUT = "input", _("visitor message")
        OUTPUT = "output", _("bot answer")
        PROVIDER = "provider", _("model provider refusal")
        KNOWLEDGE = "knowledge", _("knowledge base")

    class Outcome(models.TextChoices):
        BLOCKED = "blocked", _("blocked")
        MASKED = "masked", _("masked")
        HANDED_OFF = "handed_off", _("handed off")
        FLAGGED = "flagged", _("flagged for review")
        EXCLUDED = "excluded", _("passage kept out of the answer")

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("site")
    )
    conversation = models.ForeignKey(
        "chat.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="guard_events",
        verbose_name=_("conversation"),
    )
    # The visitor message being answered (input, output and provider verdicts).
    message = models.ForeignKey(
        "chat.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("message"),
    )
    term = models.ForeignKey(
        SensitiveTerm,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        verbose_name=_("sensitive term"),
    )
    # Copied from the term: the audit outlives edits and deletions of the list.
    term_text = models.CharField(_("term"), max_length=100, blank=True)
    category = models.CharField(_("category"), max_length=20, blank=True)
    # The provider route that refused (provider verdicts).
    route = models.CharField(_("route"), max_length=200, blank=True)
    excerpt = models.TextField(_("excerpt"), blank=True)
    article = models.ForeignKey(
        "knowledge.Article",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("article"),
    )
    faq = models.ForeignKey(
        "knowledge.FAQEntry",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("FAQ entry"),
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )

    class Meta:
        verbose_name = _("guard event")
        verbose_name_plural = _("guard events")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["source", "reviewed_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.term_text or self.route}"


class AnswerAudit(models.Model):
    """Why the bot answered one visitor message the way it did."""

    class Decision(models.TextChoices):
        FAQ = "faq", _("FAQ answer, no model")
        ANSWER = "answer", _("answered from passages")
        ABSTAIN = "abstain", _("did not know")
        REFUSE = "refuse", _("refused (guard)")
        FAIL = "fail", _("no model could answer")
        HANDOFF = "handoff", _("handed to a person on request")
        DECLINED = "declined", _("the visitor declined a person")
        SMALL_TALK = "small_talk", _("small talk")

    class Reason(models.TextChoices):
        """Why, within the decision (docs/answering.md, *Decisions and their reasons*)."""

        FAQ_MATCH = "faq_match", _("an FAQ entry matched")
        EVIDENCE = "evidence", _("the passages were strong enough")
        CACHE = "cache", _("the same question was answered before")
        NO_HITS = "no_hits", _("nothing was found")
        LOW_CONFIDENCE = "low_confidence", _("nothing was found with enough confidence")
        NOTHING_QUOTED = "nothing_quoted", _("no sentence was worth quoting")
        UNCITED = "uncited", _("the model cited no passage that exists")
        EXCLUDED = "excluded", _("every passage carried a blocked term")
        GUARD_INPUT = "guard_input", _("a sensitive term in the question")
        GUARD_OUTPUT = "guard_output", _("a sensitive term in the answer")
        PROVIDER_FILTER = "provider_filter", _("the provider's content filter refused")
        MODEL_FAILED = "model_failed", _("no model could answer")
        ERROR = "error", _("the pipeline failed")
        ACCEPTED_OFFER = "accepted_offer", _("the visitor accepted a person")
        DECLINED_OFFER = "declined_offer", _("the visitor declined a person")
        SMALL_TALK = "small_talk", _("a greeting, thanks or goodbye")
        ATTACHMENT = "attachment", _("a file alone, which the bot cannot open")

    conversation = models.ForeignKey(
        "chat.Conversation",
        on_delete=models.CASCADE,
        related_name="answer_audits",
        verbose_name=_("conversation"),
    )
    # The visitor message answered. Agent assist answers it again, for the agent only.
    question = models.ForeignKey(
        "chat.Message",
        on_delete=models.CASCADE,
        related_name="answer_audits",
        verbose_name=_("question"),
    )
    for_agent = models.BooleanField(_("suggestion for an agent"), default=False)
    # The bot message that carried the answer; empty until it is stored (or if it never was).
    reply = models.ForeignKey(
        "chat.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reply"),
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    language = models.CharField(_("language"), max_length=10)
    standalone = models.TextField(_("question searched"))
    rewrite = models.CharField(_("follow-up rewrite"), max_length=10, blank=True)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    reason = models.CharField(_("reason"), max_length=40, choices=Reason.choices)
    top_confidence = models.FloatField(_("top confidence"), null=True, blank=True)
    thresholds = models.JSONField(_("thresholds"), default=dict, blank=True)
    # [{"id", "kind", "external_id", "title", "confidence", "lexical", "semantic", "used",
    #   "cited"}], best first.
    passages = models.JSONField(_("passages"), default=list, blank=True)
    citations = models.JSONField(_("citations"), default=list, blank=True)
    cached = models.BooleanField(_("from cache"), default=False)
    kb_version = models.CharField(_("knowledge version"), max_length=300, blank=True)
    route = models.CharField(_("route"), max_length=200, blank=True)
    outcome = models.CharField(_("model outcome"), max_length=20, blank=True)
    usage = models.JSONField(_("usage"), default=dict, blank=True)
    call_id = models.UUIDField(_("model call"), null=True, blank=True)
    # [{"source", "term", "category", "action"}]
    guard = models.JSONField(_("guard verdicts"), default=list, blank=True)
    handoff = models.CharField(_("handoff"), max_length=40, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)

    class Meta:
        verbose_name = _("answer audit")
        verbose_name_plural = _("answer audits")
        ordering = ["conversation", "created_at", "pk"]
        indexes = [models.Index(fields=["decision", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.get_reason_display()})"


class AnswerCheck(models.Model):
    """A golden question: how the bot must answer it, so an edit of the knowledge base that
    changes that is seen (docs/answering.md, *Answer checks*)."""

    class Expect(models.TextChoices):
        ANSWER = "answer", _("answered, citing one of the expected entries")
        DECLINE = "decline", _("declined")

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="answer_checks", verbose_name=_("site")
    )
    question = models.TextField(_("question"))
    history = models.JSONField(
        _("earlier messages"),
        default=list,
        blank=True,
        help_text=_(
            "The visitor's earlier messages, oldest first, when the question is a follow-up."
        ),
    )
    expect = models.CharField(
        _("expected outcome"), max_length=10, choices=Expect.choices, default=Expect.ANSWER
    )
    expected_entries = models.TextField(
        _("expected entries"),
        blank=True,
        help_text=_(
            "One per line: the external id of an article or FAQ entry the answer may cite, or "
            "its title when it has none. Re-imports keep external ids."
        ),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_passed = models.BooleanField(_("passed"), null=True, blank=True)
    last_decision = models.CharField(
        _("decision"), max_length=10, choices=AnswerAudit.Decision.choices, blank=True
    )
    last_reason = models.CharField(
        _("reason"), max_length=40, choices=AnswerAudit.Reason.choices, blank=True
    )
    # The titles of the sources the answer cited, as the visitor saw them.
    last_cited = models.JSONField(_("cited"), default=list, blank=True)
    last_problem = models.TextField(_("what went wrong"), blank=True)

    class Meta:
        verbose_name = _("answer check")
        verbose_name_plural = _("answer checks")
        ordering = ["site", "pk"]

    def __str__(self) -> str:
        return self.question[:100]

    def clean(self) -> None:
        if not isinstance(self.history, list) or not all(isinstance(m, str) for m in self.history):
            raise ValidationError({"history": _("A list of the visitor's messages, as text.")})
        if self.expect == self.Expect.ANSWER and not self.expected_keys:
            raise ValidationError(
                {"expected_entries": _("List at least one entry the answer may cite.")}
            )

    @property
    def expected_keys(self) -> list[str]:
        return [line.strip() for line in self.expected_entries.splitlines() if line.strip()]
