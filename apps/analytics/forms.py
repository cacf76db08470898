from __future__ import annotations

import datetime as dt

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.analytics.selectors import Period, period_for
from apps.sites.models import Site

DEFAULT_DAYS = 30
# Days a period may name: the day after the last, and MAX_DAYS before it, must be dates too.
DAY_RANGE = [MinValueValidator(dt.date(2000, 1, 1)), MaxValueValidator(dt.date(2999, 12, 31))]


class InsightsFilter(forms.Form):
    """Which site and which days: ``?site=KEY&from=YYYY-MM-DD&to=YYYY-MM-DD``, all optional."""

    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), to_field_name="public_key", required=False, label=_("Site")
    )
    first = forms.DateField(required=False, label=_("From"), validators=DAY_RANGE)
    last = forms.DateField(required=False, label=_("To"), validators=DAY_RANGE)

    def __init__(self, data: dict, *, sites: QuerySet[Site]) -> None:
        # The dates travel as ?from=&to=; "from" is a keyword in Python, so the fields differ.
        super().__init__(
            {"site": data.get("site", ""), "first": data.get("from"), "last": data.get("to")}
        )
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)  # noqa: S101 - declared above
        site_field.queryset = sites
        self.sites = sites

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if not cleaned.get("site"):
            cleaned["site"] = self.sites.first()
        return cleaned

    def period(self, *, now: dt.datetime) -> Period:
        """The chosen days at the chosen site (the last 30 days by default); call when valid."""
        site = self.cleaned_data["site"]
        return period_for(
            site=site,
            now=now,
            days=DEFAULT_DAYS,
            first=self.cleaned_data.get("first"),
            last=self.cleaned_data.get("last"),
        )
