from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand, CommandParser
from django.utils import timezone

from apps.chat.privacy import attachment_files_sweep


class Command(BaseCommand):
    help = (
        "Remove attachment files that no attachment row holds (older than an hour, so an "
        "upload in flight is kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the orphaned files; remove nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        orphans = attachment_files_sweep(now=timezone.now(), dry_run=dry_run)
        for path in orphans:
            self.stdout.write(path)
        verb = "would be removed" if dry_run else "removed"
        self.stdout.write(f"{len(orphans)} orphaned file(s) {verb}")
