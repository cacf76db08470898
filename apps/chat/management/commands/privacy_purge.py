from __future__ import annotations

from django.core.management import BaseCommand
from django.utils import timezone

from apps.chat.privacy import conversations_purge


class Command(BaseCommand):
    help = "Delete conversations older than their site's retention period (run daily from cron)."

    def handle(self, *args: object, **options: object) -> None:
        purged = conversations_purge(now=timezone.now())
        self.stdout.write(f"{purged} conversation(s) purged")
