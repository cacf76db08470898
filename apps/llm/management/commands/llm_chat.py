"""Stream one reply through the configured chain, as the bot would get it."""

from __future__ import annotations

import json
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from apps.llm.gateway import Done, Reset
from apps.llm.loopbound import run_in_own_loop
from apps.llm.models import Origin
from apps.llm.selectors import call_usage_totals
from apps.llm.services import chat_stream, usage_origin
from apps.llm.types import ChatMessage, ChatRequest, TextDelta
from apps.sites.selectors import site_get_by_key


class Command(BaseCommand):
    help = (
        "Send QUESTION through the model chain (a site's, with --site; else the environment's) "
        "and print the reply as it streams. With --json, print one JSON object at the end "
        "instead. Exits 1 unless the outcome is complete with some text."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
        parser.add_argument("--site", help="a site's public key: use its routes from the admin")
        parser.add_argument("--language", choices=["en", "zh-hans"], help="the visitor's language")

    def handle(self, *args: object, **options: Any) -> None:
        site_id = None
        language = options["language"] or "en"
        if options["site"]:
            site = site_get_by_key(public_key=options["site"])
            if site is None:
                raise CommandError(f"no site with public key {options['site']!r}")
            site_id = site.pk
            language = options["language"] or site.default_language
        request = ChatRequest(
            messages=(ChatMessage("user", options["question"]),),
            language=language,
            question=options["question"],
        )
        done = run_in_own_loop(lambda: self._stream(site_id, request, quiet=options["json"]))
        if options["json"]:
            self.stdout.write(json.dumps(self._summary(done), ensure_ascii=False))
        else:
            self.stdout.write("")
            self.stderr.write(self._line(done))
        if done.outcome != "complete":
            raise CommandError(f"the answer is {done.outcome}")
        if not done.text:
            raise CommandError(self._empty(done))

    async def _stream(self, site_id: int | None, request: ChatRequest, *, quiet: bool) -> Done:
        with usage_origin(Origin.COMMAND):
            return await self._events(site_id, request, quiet=quiet)

    async def _events(self, site_id: int | None, request: ChatRequest, *, quiet: bool) -> Done:
        async for event in chat_stream(site_id=site_id, request=request):
            if isinstance(event, Done):
                return event
            if quiet:
                continue
            if isinstance(event, TextDelta):
                self.stdout.write(event.text, ending="")
                self.stdout.flush()
            elif isinstance(event, Reset):
                self.stderr.write(f"\n[{event.route} broke ({event.error_kind}); regenerating]")
        raise CommandError("the gateway ended without a result")

    def _summary(self, done: Done) -> dict[str, Any]:
        totals = call_usage_totals(call_id=done.call_id)
        return {
            "outcome": done.outcome,
            "text": done.text,
            "route": done.route,
            "error_kind": done.error_kind,
            "attempts": [
                {
                    "route": attempt.route.label,
                    "status": attempt.status,
                    "error_kind": attempt.error_kind,
                    "tokens": {
                        "input": attempt.usage.input_tokens if attempt.usage else 0,
                        "output": attempt.usage.output_tokens if attempt.usage else 0,
                        "estimated": attempt.usage.estimated if attempt.usage else False,
                    },
                }
                for attempt in done.attempts
            ],
            "usage": {
                "input_tokens": done.usage.input_tokens,
                "output_tokens": done.usage.output_tokens,
                "estimated": done.usage.estimated,
                "cost_cny": str(totals.cost_cny),
                "cost_usd": str(totals.cost_usd),
            },
        }

    def _line(self, done: Done) -> str:
        tokens = f"{done.usage.input_tokens} in, {done.usage.output_tokens} out"
        if done.usage.estimated:
            tokens += " (estimated)"
        if done.outcome == "complete":
            return f"[complete via {done.route}; {tokens}]"
        return f"[{done.outcome}: {done.error_kind or 'every route skipped'}; {tokens}]"

    def _empty(self, done: Done) -> str:
        if done.route and done.route.startswith("offline/"):
            return (
                f"the answer is empty: {done.route} (no model is configured) answers only by "
                "quoting knowledge-base passages, and llm_chat sends none; set CSBOT_LLM_CHAIN "
                "or the site's routes in the admin to try a model"
            )
        return f"the answer is empty: {done.route} returned no text"
