"""Re-analyze the passages of collections in place, e.g. after an upgrade changed the analyzer."""

from __future__ import annotations

from django.core.management import BaseCommand

from apps.knowledge.models import Collection
from apps.knowledge.services.content import analyzer_version_record, collection_reindex


class Command(BaseCommand):
    help = "Recompute every passage's search terms (vectors are kept); searches see it at once."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--collection", action="append", help="only these collections (names)")

    def handle(self, *args: object, collection: list[str] | None, **options: object) -> None:
        targets = (
            Collection.objects.filter(name__in=collection)
            if collection
            else Collection.objects.all()
        )
        for target in targets:
            count = collection_reindex(collection=target)
            self.stdout.write(f"{target.name}: {count} passages re-analyzed")
        if not collection:
            # Every passage is now this analyzer's: the next migrate has nothing to redo.
            analyzer_version_record()
