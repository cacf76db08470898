from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandoffConfig(AppConfig):
    name = "apps.handoff"
    label = "handoff"
    verbose_name = _("Handoff")
