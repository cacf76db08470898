"""Import a JSONL, CSV, Markdown, HTML, PDF or DOCX file (or a folder of them) into a collection."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

from django.core.management import BaseCommand, CommandError

from apps.bot.answer_checks import answer_check_line
from apps.bot.records import kb_guard_scan
from apps.knowledge.importers import FORMATS, ImportedEntry, ImportFailed, entries_parse
from apps.knowledge.management.progress import ProgressBar
from apps.knowledge.models import Collection
from apps.knowledge.services.content import collection_get_or_create, passages_embed
from apps.knowledge.services.import_jobs import collection_answer_checks
from apps.knowledge.services.imports import (
    REVIEW_TITLES,
    ImportResult,
    RemovalsUnconfirmed,
    collection_import,
)

# The exit status when the import succeeded (and is kept) but an answer check of a site
# answering from the collection fails, or the checks could not run. 1 is a rejected import.
CHECKS_FAILED = 3


class Command(BaseCommand):
    help = (
        "Import knowledge from PATH (a file, or a folder of files) into a collection. Re-importing "
        "the same file changes nothing; a broken file is rejected and changes nothing (exit 1). "
        "--replace lists the entries it would delete and asks before deleting them. Then the "
        "answer checks of the sites answering from the collection run; if one fails, or they "
        f"cannot run, the import is kept, the failures go to stderr and the exit status is "
        f"{CHECKS_FAILED}."
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
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="do not ask before --replace deletes entries (needed to delete without a TTY)",
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
            result = self._import(
                target,
                entries,
                source=path.name,
                replace=bool(options["replace"]),
                interactive=bool(options["interactive"]),
            )
        except ImportFailed as exc:
            raise CommandError(f"rejected, nothing was imported: {exc}") from exc
        if result is None:
            self.stdout.write("Cancelled; nothing was imported.")
            return
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
        # Last, as after an upload in the admin: the sites' checks answer from what is now live.
        checks = collection_answer_checks(target.pk)
        if checks.crashed:
            # The summary is then the warning that they could not run: an error, said once.
            self.stderr.write(checks.summary)
        elif checks.summary:
            self.stdout.write(checks.summary)
        for failing in checks.failing:
            self.stderr.write(answer_check_line(failing))
        if not checks.passed:
            # The import stays: it succeeded. A script or CI job still learns that the bot now
            # fails its own checks, apart from a rejected import (CommandError's 1).
            raise SystemExit(CHECKS_FAILED)

    def _import(
        self,
        target: Collection,
        entries: list[ImportedEntry],
        *,
        source: str,
        replace: bool,
        interactive: bool,
    ) -> ImportResult | None:
        """Import; a replace that would delete entries shows them and asks first.

        None when the operator declined. Without a TTY to ask on, such a replace is refused
        unless --no-input said not to ask.
        """
        # None: remove without asking; a set: remove only these (collection_import's contract).
        confirmed: frozenset[str] | None = frozenset() if replace and interactive else None
        while True:
            try:
                return collection_import(
                    collection=target,
                    entries=entries,
                    replace=replace,
                    source=source,
                    progress=ProgressBar(self.stderr, "indexing"),
                    removals_confirmed=confirmed,
                )
            except RemovalsUnconfirmed as exc:
                plan = exc.plan
            removals = cast("list[dict[str, str]]", plan["removals"])
            if confirmed:  # what the operator said yes to no longer covers what would go
                self.stdout.write(
                    "The collection changed meanwhile: the import would now remove other "
                    "entries too. Nothing was changed; review it again."
                )
            self._review_write(target, plan, removals)
            if not _stdin_is_tty():
                raise CommandError(
                    f"--replace would delete {plan['removed']} entries and there is no "
                    "terminal to confirm it on; nothing was imported. Run it in a terminal, "
                    "or pass --no-input to delete them without asking."
                )
            self.stdout.write(f"Delete {plan['removed']} entries and import? [y/N] ", ending="")
            self.stdout.flush()
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                return None
            confirmed = frozenset(removal["key"] for removal in removals)

    def _review_write(
        self, target: Collection, plan: dict[str, object], removals: list[dict[str, str]]
    ) -> None:
        """What a replace would do, as the admin's review shows it: counts, the first titles."""
        self.stdout.write(
            f"{target.name}: importing this creates {plan['created']} entries, updates "
            f"{plan['updated']} and leaves {plan['unchanged']} unchanged. It also deletes "
            f"{plan['removed']} entries that are not in the file:"
        )
        for removal in removals[:REVIEW_TITLES]:
            self.stdout.write(f"  {removal['title']} ({removal['id'] or removal['kind']})")
        if len(removals) > REVIEW_TITLES:
            self.stdout.write(f"  …and {len(removals) - REVIEW_TITLES} more.")


def _stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
