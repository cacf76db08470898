"""Admin forms: the API key is write-only."""

# Django's form classes are generic only in django-stubs, not at runtime.
# mypy: disable-error-code="type-arg"

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.llm.models import ModelProvider
from apps.llm.presets import preset_get


class _URLField(forms.URLField):
    def __init__(self, **kwargs: Any) -> None:
        # Provider APIs are HTTPS; a bare host typed in the admin means https://.
        super().__init__(assume_scheme="https", **kwargs)


class ModelProviderForm(forms.ModelForm):
    # Never rendered with its value: the stored key cannot be read back from the admin.
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the stored key"), required=False)

    class Meta:
        model = ModelProvider
        fields = ["site", "preset", "name", "base_url", "api_key"]
        field_classes = {"base_url": _URLField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.api_key:
            self.fields["api_key"].help_text = _("A key is stored. Leave empty to keep it.")
        else:
            self.fields["api_key"].help_text = _("No key is stored.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        typed = cleaned.get("api_key")
        if cleaned.get("clear_api_key") and typed:
            # Both at once is ambiguous (or a browser filled in a saved password): ask.
            self.add_error(
                "api_key",
                _("Type a new key or tick “Remove the stored key”, not both."),
            )
            return cleaned
        api_key = "" if cleaned.get("clear_api_key") else typed or self.instance.api_key
        cleaned["api_key"] = api_key
        preset = preset_get(cleaned.get("preset") or "")
        if preset and not api_key and preset.key_required(cleaned.get("base_url") or ""):
            self.add_error(
                "api_key", _("%(provider)s needs an API key.") % {"provider": preset.title}
            )
        return cleaned
