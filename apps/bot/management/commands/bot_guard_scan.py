"""Flag published knowledge-base entries that contain a sensitive term, for review."""

from __future__ import annotations

from django.core.management import BaseCommand

from apps.bot.records import kb_guard_scan
from apps.knowledge.models import Collection


class Command(BaseCommand):
    help = (
        "Scan the published articles and FAQ entries for the active sensitive terms; each new "
        "(entry, term) pair becomes a guard event to review in the admin. Safe to re-run."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--collection", action="append", help="only these collections")

    def handle(self, *args: object, collection: list[str] | None, **options: object) -> None:
        names = collection
        ids = (
            list(Collection.objects.filter(name__in=names).values_list("pk", flat=True))
            if names
            else None
        )
        result = kb_guard_scan(collection_ids=ids)
        self.stdout.write(
            f"{result.entries} published entries scanned, {result.flagged} new flag(s) for review"
        )
