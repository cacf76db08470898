"""``outcomes_report --site KEY [--days 30] [--json]``: the dashboard's figures in a terminal."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.analytics.selectors import (
    MAX_DAYS,
    insights_as_dict,
    insights_compute,
    period_for,
)
from apps.sites.selectors import site_get_by_key


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _cost(models: dict[str, Any]) -> str:
    """The model cost as the dashboard's card shows it: — when no attempt had a price, a * when
    some had none (they are left out of the sum)."""
    if models["cost_unknown"]:
        return "— (unknown: no price is configured)"
    per_resolution = models["cost_per_resolution_cny"]
    return (
        f"¥{models['cost_cny']:.2f}{'*' if models['unpriced_attempts'] else ''}; per resolution "
        + ("—" if per_resolution is None else f"¥{per_resolution}")
    )


class Command(BaseCommand):
    help = "Print a site's outcomes, handoffs, SLA, CSAT, thumbs, model cost and knowledge gaps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's public key")
        parser.add_argument(
            "--days", type=int, default=30, help="days up to today, at the site (default 30)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        site = site_get_by_key(public_key=options["site"])
        if site is None:
            raise CommandError(f"no site has the key {options['site']!r}")
        if not 1 <= options["days"] <= MAX_DAYS:
            raise CommandError(f"--days must be 1 to {MAX_DAYS}")
        period = period_for(site=site, now=timezone.now(), days=options["days"])
        figures = insights_as_dict(insights_compute(site=site, period=period))
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False, indent=2))
            return
        self.stdout.write(self._text(figures))

    def _text(self, f: dict[str, Any]) -> str:
        c, t, m = f["conversations"], f["tickets"], f["models"]
        lines = [
            f"{f['site']['name']} ({f['site']['key']}), {f['period']['from']} – "
            f"{f['period']['to']} {f['period']['time_zone']}; reopen window "
            f"{f['period']['reopen_window_hours']} h",
            "",
            f"Conversations     {c['total']}  (settled {c['settled']}, still open {c['open']})",
            f"  resolved by bot   {c['resolved_bot']:>6}  {_percent(c['bot_resolution_rate'])}",
            f"  resolved by agent {c['resolved_agent']:>6}  {_percent(c['agent_resolution_rate'])}",
            f"  handed off        {c['handed_off']:>6}",
            f"  abandoned         {c['abandoned']:>6}  {_percent(c['abandon_rate'])}",
            f"Handoff rate      {_percent(c['handoff_rate'])}",
        ]
        lines += [
            f"  {reason:<20} {v['count']:>6}  {_percent(v['rate'])}"
            for reason, v in f["handoffs_by_reason"].items()
        ]
        fr, rs = t["first_response"], t["resolution"]
        lines += [
            f"Tickets           {t['total']}",
            f"  first response  median {_minutes(fr['median_seconds'])}, "
            f"within SLA {_percent(fr['met_rate'])}, overdue {fr['overdue']}",
            f"  resolution      median {_minutes(rs['median_seconds'])}, "
            f"within SLA {_percent(rs['met_rate'])}, overdue {rs['overdue']}",
            f"CSAT              {f['csat']['average'] or '—'} / 5 from {f['csat']['responses']} "
            f"ratings ({_percent(f['csat']['response_rate'])} of solved tickets)",
            f"Thumbs            {f['feedback']['up']} up, {f['feedback']['down']} down "
            f"({_percent(f['feedback']['up_rate'])} helpful)",
            f"Model cost        {_cost(m)}",
            f"  answers {m['calls']}, attempts {m['attempts']}, errors "
            f"{_percent(m['error_rate'])}, failed over {_percent(m['failover_rate'])}, "
            f"no answer {_percent(m['failure_rate'])}",
        ]
        if m["unpriced_attempts"]:
            unpriced = ", ".join(
                f"{model['provider']}/{model['model']}"
                for model in m["by_model"]
                if model["unpriced_attempts"]
            )
            lines.append(
                f"  No price is configured for {unpriced}: what their tokens cost is unknown (—) "
                "or left out of the sums (*). Add their prices under Models → Model prices."
            )
        lines += [
            "",
            "Knowledge gaps (most asked first)",
        ]
        lines += [
            f"  {gap['asked']:>4}×  {gap['question']}"
            + (f"   [agent answered in #{gap['answer_ticket_id']}]" if gap["agent_answer"] else "")
            for gap in f["knowledge_gaps"]
        ] or ["  none"]
        return "\n".join(lines)
