"""Run the answer checks and exit non-zero when any fails (for a cron or CI job)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management import BaseCommand, CommandError

from apps.bot.answer_checks import answer_check_line
from apps.bot.records import answer_checks_run
from apps.bot.selectors import answer_check_ids
from apps.sites.selectors import site_get_by_key


class Command(BaseCommand):
    help = (
        "Answer every answer check's question with the offline answerer (free, deterministic), "
        "store the result as its last run, print a table or JSON; exit 1 if any check fails."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--site", help="public key of a site: only its checks")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: object, **options: Any) -> None:
        site_id = None
        if options["site"]:
            site = site_get_by_key(public_key=options["site"])
            if site is None:
                raise CommandError(f"no site with public key {options['site']!r}")
            site_id = site.pk
        results = answer_checks_run(check_ids=answer_check_ids(site_id=site_id))
        failed = sum(not r.passed for r in results)
        if options["json"]:
            rows = [
                {
                    "id": r.check.pk,
                    "site": r.check.site.public_key,
                    "question": r.check.question,
                    "expect": r.check.expect,
                    "passed": r.passed,
                    "decision": r.decision,
                    "reason": r.reason,
                    "cited": r.cited,
                    "problem": r.problem,
                }
                for r in results
            ]
            summary = {"total": len(results), "passed": len(results) - failed, "failed": failed}
            self.stdout.write(json.dumps({**summary, "checks": rows}, ensure_ascii=False))
        else:
            for r in results:
                self.stdout.write(answer_check_line(r))
            self.stdout.write(f"{len(results) - failed} of {len(results)} answer checks pass")
        if failed:
            raise SystemExit(1)
