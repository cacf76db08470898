from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LlmConfig(AppConfig):
    name = "apps.llm"
    label = "llm"
    verbose_name = _("Models")

    def ready(self) -> None:
        from apps.llm.config import env_config

        # An unknown provider or a missing key in the environment stops start-up, named.
        env_config()
