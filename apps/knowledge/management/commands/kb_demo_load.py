"""Load the demo shop's bilingual help centre into a collection linked to a site; safe to re-run."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management import BaseCommand, CommandError

from apps.knowledge.importers import entries_parse
from apps.knowledge.management.progress import ProgressBar
from apps.knowledge.services.content import collection_get_or_create, passages_embed
from apps.knowledge.services.imports import collection_import
from apps.knowledge.services.tuning import tuning_demo_apply
from apps.sites.selectors import site_get_by_key

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
COLLECTION_NAME = "Lumen & Co. help centre"


class Command(BaseCommand):
    help = "Load the Lumen & Co. demo help centre (zh-Hans + en) into a collection used by --site."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--site", required=True, help="public key of the site that answers from it"
        )

    def handle(self, *args: object, site: str, **options: object) -> None:
        target_site = site_get_by_key(public_key=site)
        if target_site is None:
            raise CommandError(f"no site with public key {site!r}")
        tuning = json.loads((DEMO_DIR / "tuning.json").read_text(encoding="utf-8"))
        tuning_demo_apply(
            words=tuning["words"], synonyms=tuning["synonyms"], patterns=tuning["patterns"]
        )
        data = (DEMO_DIR / "help-centre.jsonl").read_bytes()
        collection = collection_get_or_create(name=COLLECTION_NAME)
        collection.sites.add(target_site)
        result = collection_import(
            collection=collection,
            entries=entries_parse(data, name="help-centre.jsonl", fmt="jsonl"),
            replace=True,
            source="demo",
        )
        added = passages_embed(
            collection_id=collection.pk, progress=ProgressBar(self.stderr, "embedding")
        )
        self.stdout.write(
            f"Demo knowledge base: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged; {added} passages embedded; linked to {target_site.name}"
        )
