from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandoffConfig(AppConfig):
    name = "apps.handoff"
    label = "handoff"
    verbose_name = _("Handoff")

    def ready(self) -> None:
        from apps.core.memo import forget_on_change
        from apps.handoff.models import HandoffSettings, Team

        # Team: the settings carry their default team.
        forget_on_change(HandoffSettings, Team)
