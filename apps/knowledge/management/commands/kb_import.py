"""Import a JSONL, CSV, Markdown, HTML, PDF or DOCX file (or a folder of them) into a collection."""

from __future__ import annotations

from pathlib import Path

from django.core.management import BaseCommand, CommandError

from apps.bot.records import kb_guard_scan
from apps.knowledge.importers import FORMATS, ImportedEntry, ImportFailed, entries_parse
from apps.knowledge.management.progress import ProgressBar
from apps.knowledge.services.content import collection_get_or_create, passages_embed
from apps.knowledge.services.imports import collection_import


class Command(BaseCommand):
    help = (
        "Import knowledge from PATH (a file, or a folder of files) into a collection. Re-importing "
        "the same file changes nothing; a broken file is rejected and changes nothing."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--collection", default="Default", help="collection name (created if new)"
        )
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument(
            "--replace", action="store_true", help="delete entries of the collection not in PATH"
        )
        parser.add_argument(
            "--no-embed", action="store_true", help="skip computing vectors for dense search now"
        )

    def handle(
        self, *args: object, path: Path, collection: str, format: str, **options: object
    ) -> None:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        if not files or not files[0].exists():
            raise CommandError(f"{path}: no such file")
        entries: list[ImportedEntry] = []
        for file in files:
            try:
                entries.extend(entries_parse(file.read_bytes(), name=file.name, fmt=format))
            except ImportFailed as exc:
                raise CommandError(f"rejected, nothing was imported: {exc}") from exc
        target = collection_get_or_create(name=collection)
        try:
            result = collection_import(
                collection=target,
                entries=entries,
                replace=bool(options["replace"]),
                source=path.name,
                progress=ProgressBar(self.stderr, "indexing"),
            )
        except ImportFailed as exc:
            raise CommandError(f"rejected, nothing was imported: {exc}") from exc
        self.stdout.write(
            f"{target.name}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.removed} removed; "
            f"{result.passages} passages indexed"
        )
        # What --replace deleted, one line each: the record of it is this output.
        for removal in result.removals:
            self.stdout.write(
                f"removed {removal['kind']} {removal['id'] or '-'}: {removal['title']}"
            )
        # The guard owns the sensitive-term list; imported text is checked against it at once
        # so an admin sees what needs review before the bot ever quotes it.
        scan = kb_guard_scan(collection_ids=[target.pk])
        if scan.flagged:
            self.stdout.write(f"{scan.flagged} entries flagged for review (sensitive terms)")
        if not options["no_embed"]:
            added = passages_embed(
                collection_id=target.pk, progress=ProgressBar(self.stderr, "embedding")
            )
            if added:
                self.stdout.write(f"{added} passages embedded for dense search")
