"""Compute missing vectors for dense search (after an outage, or a change of model)."""

from __future__ import annotations

from django.core.management import BaseCommand, CommandError

from apps.knowledge.management.progress import ProgressBar
from apps.knowledge.models import Collection
from apps.knowledge.search.embedders import embedder_get
from apps.knowledge.services.content import passages_embed


class Command(BaseCommand):
    help = "Embed every passage that has no vector from the configured model (CSBOT_EMBEDDINGS)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--collection", action="append", help="only these collections (names)")

    def handle(self, *args: object, collection: list[str] | None, **options: object) -> None:
        if embedder_get() is None:
            raise CommandError("dense search is off (CSBOT_EMBEDDINGS=off): nothing to embed")
        targets = (
            Collection.objects.filter(name__in=collection)
            if collection
            else Collection.objects.all()
        )
        for target in targets:
            added = passages_embed(
                collection_id=target.pk, progress=ProgressBar(self.stderr, target.name)
            )
            self.stdout.write(f"{target.name}: {added} passages embedded")
