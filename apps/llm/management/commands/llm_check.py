"""Ping every configured model route with a one-token request and print how each answered."""

from __future__ import annotations

from django.core.management import BaseCommand, CommandError

from apps.llm.loopbound import run_in_own_loop
from apps.llm.selectors import configured_routes
from apps.llm.services import routes_check

_HEADINGS = ("SITE", "PURPOSE", "ROUTE", "RESULT", "LATENCY", "DETAIL")


class Command(BaseCommand):
    help = (
        "Ping every configured model route (the environment's chain, every site's admin routes) "
        "with a one-token request; print a table. Exits 1 if any route failed."
    )

    def handle(self, *args: object, **options: object) -> None:
        routes = configured_routes()
        checks = run_in_own_loop(lambda: routes_check(routes=routes))
        rows = [
            (
                check.configured.site,
                check.configured.purpose,
                check.configured.route.label,
                check.attempt.error.kind if check.attempt.error else "ok",
                f"{check.attempt.latency * 1000:.0f} ms",
                str(check.attempt.error) if check.attempt.error else "",
            )
            for check in checks
        ]
        widths = [max(len(row[i]) for row in (_HEADINGS, *rows)) for i in range(len(_HEADINGS) - 1)]
        for row in (_HEADINGS, *rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
        failed = sum(1 for check in checks if check.attempt.error)
        if failed:
            raise CommandError(f"{failed} of {len(checks)} routes failed")
