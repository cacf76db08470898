from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BotConfig(AppConfig):
    name = "apps.bot"
    label = "bot"
    verbose_name = _("Bot")

    def ready(self) -> None:
        from apps.bot.models import BotSettings, SensitiveTerm
        from apps.core.memo import forget_on_change

        forget_on_change(BotSettings, SensitiveTerm)
