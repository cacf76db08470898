"""Step 4: stream a grounded answer from the model gateway, guarded and checked on the way out.

What the visitor sees is decided here:

* **Guard.** Text passes through ``guard.StreamGuard``, which holds back a tail as long as the
  longest sensitive term, so a term split across tokens is never half shown. A block or
  hand-off term stops the stream (the provider request is closed) before its first character
  is released; a provider's content-filter refusal stops it the same way.
* **Strict citations.** With ``strict``, nothing is shown until the text cites a passage that
  exists; from then on it streams. An answer that ends without one was never seen, so it is
  replaced by "I don't know" without any reset. (Models cite the first statement, so the
  visitor waits about one sentence.)
* **Resets.** When the gateway regenerates on another route, or the answer is withdrawn after
  text was shown, an ``AnswerReset`` goes out before anything else.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass

from apps.bot.answer import AnswerDelta, AnswerEvent, AnswerReset
from apps.bot.citations import CheckedAnswer, answer_check, first_valid, normalise_markers
from apps.bot.guard import Hit as TermHit
from apps.bot.guard import Matcher, StreamGuard
from apps.bot.trace import GuardVerdict, Trace
from apps.chat.events import Citation
from apps.llm.gateway import Done, Reset
from apps.llm.services import chat_stream
from apps.llm.types import ChatRequest, TextDelta


@dataclass(frozen=True)
class Generated:
    """How a generation ended.

    ``status``: ``answered`` (``answer`` holds the checked text), ``empty`` (nothing to say:
    the offline answerer found nothing to quote), ``uncited`` (strict mode, no valid citation),
    ``stopped`` (guard term, ``term`` says which), ``refused`` (the provider's content filter),
    ``failed`` (no model could answer). ``shown`` is whether the visitor saw any of it.
    """

    status: str
    shown: bool
    answer: CheckedAnswer | None = None
    term: TermHit | None = None


class Generation:
    """One answer's stream; iterate ``events()``, then read ``result``."""

    def __init__(
        self,
        *,
        request: ChatRequest,
        site_id: int | None,
        conversation_id: int | None,
        matcher: Matcher,
        available: Mapping[int, Citation],
        strict: bool,
        trace: Trace,
    ) -> None:
        self.request = request
        self.site_id = site_id
        self.conversation_id = conversation_id
        self.matcher = matcher
        self.available = available
        self.strict = strict
        self.trace = trace
        self.result: Generated | None = None
        self._shown = False
        self._held: list[str] = []
        self._guard = StreamGuard(matcher)
        # Routes whose content filter broke a stream off; the answer was regenerated elsewhere.
        self._refused: list[str] = []

    def _restart(self) -> None:
        self._shown = False
        self._held = []
        self._guard = StreamGuard(self.matcher)

    def _release(self, text: str) -> str:
        """What of newly guard-cleared ``text`` the visitor may see now (strict mode holds)."""
        if not text:
            return ""
        if self.strict and not self._shown:
            self._held.append(text)
            held = normalise_markers("".join(self._held))
            if first_valid(held, self.available) is None:
                return ""
            self._held = []
            return held
        return text

    async def events(self) -> AsyncGenerator[AnswerEvent, None]:
        done: Done | None = None
        stream = chat_stream(
            site_id=self.site_id, request=self.request, conversation_id=self.conversation_id
        )
        async with aclosing(stream) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    verdict = self._guard.feed(event.text)
                    self._note_masks(verdict.masked)
                    visible = self._release(verdict.text)
                    if visible:
                        self._shown = True
                        yield AnswerDelta(visible)
                    if verdict.stop is not None:
                        break
                elif isinstance(event, Reset):
                    if event.error_kind == "content_filter":
                        self._refused.append(event.route)
                    if self._shown:
                        yield AnswerReset()
                    self._restart()
                elif isinstance(event, Done):
                    done = event
        stop = self._guard.stopped
        if done is not None and stop is None:
            self._account(done)
            if done.outcome == "complete":
                verdict = self._guard.finish()
                self._note_masks(verdict.masked)
                stop = verdict.stop
                if stop is None:
                    visible = self._release(verdict.text)
                    if visible:
                        self._shown = True
                        yield AnswerDelta(visible)
        if stop is not None:
            self.trace.guard.append(
                GuardVerdict(
                    source="output",
                    outcome="handed_off" if stop.term.action == "handoff" else "blocked",
                    hit=stop,
                    excerpt=stop.excerpt(self._guard.received),
                )
            )
            self.result = Generated("stopped", self._shown, term=stop)
            return
        if done is None:
            raise RuntimeError("the model gateway ended without Done")
        self.result = self._conclude(done)

    def _conclude(self, done: Done) -> Generated:
        refused = done.outcome != "complete" and done.error_kind == "content_filter"
        last = _last_route(done) if refused else ""
        self._note_refusals([r for r in self._refused if r != last], regenerated=True)
        if refused:
            self._note_refusals([last], regenerated=False)
            return Generated("refused", self._shown)
        if done.outcome != "complete":
            return Generated("failed", self._shown)
        checked = answer_check(self._guard.released_text, self.available)
        if not checked.text:
            return Generated("empty", self._shown)
        if self.strict and not checked.citations:
            return Generated("uncited", self._shown, checked)
        return Generated("answered", self._shown, checked)

    def _account(self, done: Done) -> None:
        trace = self.trace
        trace.route = done.route or ""
        trace.outcome = done.outcome
        trace.input_tokens += done.usage.input_tokens
        trace.output_tokens += done.usage.output_tokens
        trace.tokens_estimated = trace.tokens_estimated or done.usage.estimated
        trace.call_ids.append(done.call_id)

    def _note_masks(self, hits: tuple[TermHit, ...]) -> None:
        self.trace.guard.extend(
            GuardVerdict(source="output", outcome="masked", hit=hit) for hit in hits
        )

    def _note_refusals(self, routes: list[str], *, regenerated: bool) -> None:
        self.trace.guard.extend(
            GuardVerdict(
                source="provider",
                outcome="blocked",
                route=route,
                excerpt="regenerated on the next route" if regenerated else "",
            )
            for route in dict.fromkeys(routes)
        )


def _last_route(done: Done) -> str:
    return done.attempts[-1].route.label if done.attempts else ""
