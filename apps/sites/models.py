from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.lib import languages


def _new_public_key() -> str:
    return "site_" + secrets.token_urlsafe(12)


def _validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone %(value)s."), params={"value": value})


class Language(models.TextChoices):
    ENGLISH = languages.ENGLISH, "English"
    CHINESE = languages.CHINESE, "简体中文"

    @classmethod
    def of(cls, code: str | None) -> str:
        """Our code for a language tag (zh, zh-CN, zh-Hans, en, en-US…); "" for any other."""
        ours = languages.language_code(code)
        return cls(ours) if ours else ""


class Site(models.Model):
    """One widget installation: the page(s) a site owner pasted the script tag into."""

    class Prechat(models.TextChoices):
        OFF = "off", _("off")
        ASK = "ask", _("ask for name and email (visitors may skip)")
        REQUIRE = "require", _("require an email before the first message")

    public_key = models.CharField(
        _("public key"),
        max_length=40,
        unique=True,
        default=_new_public_key,
        help_text=_("Goes in the script tag's data-site attribute. Not a secret."),
    )
    name = models.CharField(_("name"), max_length=200)
    allowed_origins = models.TextField(
        _("allowed origins"),
        help_text=_(
            "One origin per line, e.g. https://shop.example.com. A leading *. allows every "
            "subdomain: https://*.example.com. The widget refuses to run anywhere else."
        ),
    )
    default_language = models.CharField(
        _("default language"), max_length=10, choices=Language.choices, default=Language.CHINESE
    )
    greeting = models.TextField(
        _("greeting"), blank=True, help_text=_("In the site's default language.")
    )
    greeting_other = models.TextField(
        _("greeting in the other language"),
        blank=True,
        help_text=_(
            "Shown instead to visitors who write or browse in the other language (English on a "
            "Chinese site, Chinese on an English one). Empty: everyone sees the greeting."
        ),
    )
    theme_color = models.CharField(
        _("theme colour"),
        max_length=7,
        default="#2563eb",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a #rrggbb colour."))],
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[_validate_time_zone]
    )
    prechat = models.CharField(
        _("pre-chat form"),
        max_length=10,
        choices=Prechat.choices,
        default=Prechat.OFF,
        help_text=_(
            "Shown in the widget before a visitor's first message, until they answer it (or "
            "skip it, when they may). Not shown to visitors the page identified with an email."
        ),
    )
    retention_days = models.PositiveIntegerField(
        _("keep conversations for (days)"),
        null=True,
        blank=True,
        # 0 would purge the conversations going on now.
        validators=[MinValueValidator(1)],
        help_text=_(
            "Conversations older than this are deleted by privacy_purge. Empty keeps them."
        ),
    )
    mask_pii = models.BooleanField(
        _("mask personal data"),
        default=False,
        help_text=_(
            "Store visitors' messages and the names of their files with phone numbers, email "
            "addresses and ID-card numbers replaced by placeholders."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from apps.sites.origins import BadOrigin, origin_patterns_parse

        try:
            origin_patterns_parse(self.allowed_origins)
        except BadOrigin as exc:
            message = _(
                "Not an origin: “%(line)s”. An origin is a scheme and a host, with a port if "
                "it is not the usual one, e.g. https://shop.example.com or http://127.0.0.1:8098."
            )
            raise ValidationError({"allowed_origins": message % {"line": exc.line}}) from exc


class BusinessHours(models.Model):
    """One opening window of a weekday, in the site's time zone. No rows means always open."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="business_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                # 00:00 closes at midnight: "18:00–00:00", or "00:00–00:00" for the whole day.
                condition=models.Q(closes__gt=models.F("opens")) | models.Q(closes=dt.time(0)),
                name="business_hours_closes_after_opens",
                violation_error_message=_(
                    "The closing time must be after the opening time on the same day. For hours "
                    "past midnight, close at 00:00 and add a window from 00:00 on the next day."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"
