from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import SealedCharField
from apps.llm.presets import PRESETS, preset_choices
from apps.llm.routes import Timeouts
from apps.llm.types import ERROR_KINDS
from apps.sites.models import Site

_DEFAULT_TIMEOUTS = Timeouts()


class Purpose(models.TextChoices):
    CHAT = "chat", _("chat")
    EMBEDDINGS = "embeddings", _("embeddings")
    CHECK = "check", _("health check")


class Origin(models.TextChoices):
    """What a model call was made for: only visitors' answers measure what visitors got."""

    VISITOR = "visitor", _("a visitor's answer")
    ASSIST = "assist", _("agent assist")
    CHECK = "check", _("route check")
    COMMAND = "command", _("command line")
    EVALUATION = "evaluation", _("answer checks and bot_eval")


class ModelProvider(models.Model):
    """A site's account with one provider: which preset, where, and the key."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="model_providers", verbose_name=_("site")
    )
    preset = models.CharField(_("provider"), max_length=20, choices=preset_choices)
    name = models.CharField(
        _("name"),
        max_length=100,
        blank=True,
        help_text=_("Optional, e.g. “DeepSeek, main account”."),
    )
    base_url = models.URLField(
        _("base URL"),
        blank=True,
        help_text=_(
            "Empty: the provider's public API. Set it for a proxy or a self-hosted server."
        ),
    )
    # Write-only in the admin (forms.ModelProviderForm); never logged, never shown back; sealed
    # in the database.
    api_key = SealedCharField(_("API key"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("model provider")
        verbose_name_plural = _("model providers")
        ordering = ["site", "pk"]

    def __str__(self) -> str:
        return self.name or self.get_preset_display()


class ModelRoute(models.Model):
    """One model of a provider, in the site's failover chain (lowest position first)."""

    provider = models.ForeignKey(
        ModelProvider, on_delete=models.CASCADE, related_name="routes", verbose_name=_("provider")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    model = models.CharField(_("model"), max_length=200, help_text=_("e.g. deepseek-chat"))
    purpose = models.CharField(
        _("purpose"),
        max_length=12,
        choices=[
            (Purpose.CHAT, Purpose.CHAT.label),
            (Purpose.EMBEDDINGS, Purpose.EMBEDDINGS.label),
        ],
        default=Purpose.CHAT,
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    connect_timeout = models.FloatField(
        _("connect timeout (s)"),
        default=_DEFAULT_TIMEOUTS.connect,
        validators=[MinValueValidator(0.1), MaxValueValidator(60)],
    )
    first_token_timeout = models.FloatField(
        _("first token timeout (s)"),
        default=_DEFAULT_TIMEOUTS.first_token,
        validators=[MinValueValidator(0.1), MaxValueValidator(600)],
    )
    between_tokens_timeout = models.FloatField(
        _("between tokens timeout (s)"),
        default=_DEFAULT_TIMEOUTS.between_tokens,
        validators=[MinValueValidator(0.1), MaxValueValidator(600)],
    )
    total_timeout = models.FloatField(
        _("total timeout (s)"),
        default=_DEFAULT_TIMEOUTS.total,
        validators=[MinValueValidator(1), MaxValueValidator(1800)],
    )
    max_tokens = models.PositiveIntegerField(
        _("max tokens"), default=1024, validators=[MinValueValidator(1)]
    )
    max_retries = models.PositiveSmallIntegerField(
        _("retries"),
        default=1,
        validators=[MaxValueValidator(5)],
        help_text=_("Extra tries on this route for rate limits, timeouts and server errors."),
    )

    class Meta:
        verbose_name = _("model route")
        verbose_name_plural = _("model routes")
        ordering = ["provider__site", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.provider.preset}/{self.model}"

    def clean(self) -> None:
        errors: dict[str, object] = {}
        # Unset while an inline form is being built for a provider not saved yet.
        provider = getattr(self, "provider", None)
        if (
            self.purpose == Purpose.EMBEDDINGS
            and provider is not None
            and not PRESETS[provider.preset].embeddings
        ):
            errors["purpose"] = _("This provider has no embeddings API.")
        if self.first_token_timeout > self.total_timeout:
            errors["total_timeout"] = _(
                "The total timeout must be at least the first token timeout."
            )
        if errors:
            raise ValidationError(errors)


class ModelPrice(models.Model):
    """The list price of a model from ``valid_from`` on; a new price is a new row."""

    provider = models.CharField(_("provider"), max_length=20, choices=preset_choices)
    model = models.CharField(_("model"), max_length=200)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    input_cny = models.DecimalField(
        _("input, CNY per million tokens"), max_digits=12, decimal_places=4, default=0
    )
    output_cny = models.DecimalField(
        _("output, CNY per million tokens"), max_digits=12, decimal_places=4, default=0
    )
    input_usd = models.DecimalField(
        _("input, USD per million tokens"), max_digits=12, decimal_places=4, default=0
    )
    output_usd = models.DecimalField(
        _("output, USD per million tokens"), max_digits=12, decimal_places=4, default=0
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("model price")
        verbose_name_plural = _("model prices")
        ordering = ["provider", "model", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "valid_from"], name="modelprice_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.valid_from:%Y-%m-%d}"


class UsageRecord(models.Model):
    """One attempt of one model call: tokens, timings, outcome and what it cost."""

    class Outcome(models.TextChoices):
        COMPLETE = "complete", _("complete")
        ERROR = "error", _("failed before the first token")
        BROKEN = "broken", _("broke after the first token")
        CANCELLED = "cancelled", _("cancelled by the caller")

    created_at = models.DateTimeField(_("time"), default=timezone.now)
    # Attempts of the same call share it; ``attempt`` orders them.
    call_id = models.UUIDField(_("call"))
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    # Records from before it was kept count as visitors' (the migration's default).
    origin = models.CharField(
        _("made for"), max_length=10, choices=Origin.choices, default=Origin.VISITOR
    )
    # Kept when the site, conversation or route goes: the money was spent.
    site = models.ForeignKey(
        Site,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("site"),
    )
    conversation = models.ForeignKey(
        "chat.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_usage",
        verbose_name=_("conversation"),
    )
    message = models.ForeignKey(
        "chat.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("message"),
    )
    route = models.ForeignKey(
        ModelRoute,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage",
        verbose_name=_("route"),
    )
    provider = models.CharField(_("provider"), max_length=20)
    model = models.CharField(_("model"), max_length=200)
    input_tokens = models.PositiveIntegerField(_("input tokens"), default=0)
    output_tokens = models.PositiveIntegerField(_("output tokens"), default=0)
    tokens_estimated = models.BooleanField(_("estimated"), default=False)
    ttft_ms = models.PositiveIntegerField(_("first token (ms)"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("total (ms)"), default=0)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    error_kind = models.CharField(
        _("error"), max_length=16, blank=True, choices=[(kind, kind) for kind in ERROR_KINDS]
    )
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # The provider's own words (keys masked): what Route health shows as a route's last error.
    error_message = models.CharField(_("error message"), max_length=500, blank=True)
    # The price version charged; PROTECT keeps it from being deleted under the record.
    price = models.ForeignKey(
        ModelPrice,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("price"),
    )
    cost_cny = models.DecimalField(_("cost (CNY)"), max_digits=14, decimal_places=6, default=0)
    cost_usd = models.DecimalField(_("cost (USD)"), max_digits=14, decimal_places=6, default=0)

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["call_id"]),
            models.Index(fields=["provider", "model", "-created_at"]),
            models.Index(fields=["site", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.outcome}"
