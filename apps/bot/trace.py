"""What one answer starts from (``Ask``) and what happened while it was made (``Trace``).

The core (``respond.respond``) reads ``Ask`` and fills ``Trace``; it writes nothing. The
visitor-facing entry point (``pipeline.answer``) turns the trace into the audit row, guard
events and a handoff; ``bot_eval`` reads it to score the answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from apps.bot.guard import Hit as TermHit
from apps.bot.memory import Turn
from apps.bot.models import BotSettings
from apps.handoff.details import HandoffDetail


@dataclass(frozen=True)
class Ask:
    question: str
    settings: BotSettings
    site_name: str
    # None: the environment's model chain (bot_eval without --site).
    site_id: int | None
    collection_ids: tuple[int, ...]
    turns: tuple[Turn, ...] = ()
    fallback_language: str = "en"
    # Conversation.language as stored ("" until a question showed one).
    conversation_language: str = ""
    previous_decision: str = ""
    # Answers in a row, just before this one, that the bot could not ground.
    abstentions: int = 0
    # After this many in a row the bot hands over (0: never); handoff's setting.
    abstain_limit: int = 0
    conversation_id: int | None = None
    # False for agent assist and evaluation: nobody is handed over.
    may_hand_off: bool = True


@dataclass(frozen=True)
class GuardVerdict:
    # GuardEvent.Source / GuardEvent.Outcome values.
    source: str
    outcome: str
    hit: TermHit | None = None
    excerpt: str = ""
    route: str = ""
    article_id: int | None = None
    faq_id: int | None = None


@dataclass
class Trace:
    language: str = ""
    standalone: str = ""
    rewrite: str = ""
    decision: str = ""
    reason: str = ""
    top_confidence: float | None = None
    # The thresholds the decision was taken with: {"faq", "answer"}.
    thresholds: dict[str, float] = field(default_factory=dict)
    # One row per passage considered, as AnswerAudit.passages stores them.
    passages: list[dict] = field(default_factory=list)
    kb_version: str = ""
    cached: bool = False
    route: str = ""
    outcome: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    call_ids: list[uuid.UUID] = field(default_factory=list)
    guard: list[GuardVerdict] = field(default_factory=list)
    # A Ticket.Reason to hand over with once the reply is stored, or "".
    handoff: str = ""
    handoff_detail: HandoffDetail | None = None
