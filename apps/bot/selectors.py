"""Reads for the answering pipeline: settings, the guard's term list, a conversation's turns."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.db.models import Count, Max, Q, Subquery

from apps.bot.guard import Matcher, Term
from apps.bot.memory import Turn
from apps.bot.models import AnswerAudit, AnswerCheck, BotSettings, SensitiveTerm
from apps.chat.models import Conversation, Message
from apps.chat.selectors import conversation_language
from apps.core.memo import site_settings
from apps.sites.models import Site

# Turns read back from the database at most; the token budget picks from these.
HISTORY_LIMIT = 20


def bot_settings_get(*, site: Site) -> BotSettings:
    """The site's settings, or unsaved defaults when it has none; kept a second, read-only
    (``apps/core/memo.py``)."""
    return site_settings.get(
        ("bot", site.pk),
        lambda: BotSettings.objects.filter(site=site).first() or BotSettings(site=site),
    )


def _terms_query(site_id: int | None) -> Q:
    scope = Q(site__isnull=True) if site_id is None else Q(site__isnull=True) | Q(site_id=site_id)
    return Q(is_active=True) & scope


class _MatcherCache:
    """Each site's matcher, rebuilt only when its term list changed (checked per call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int | None, tuple[tuple[object, ...], Matcher]] = {}

    def get(self, site_id: int | None) -> Matcher:
        query = _terms_query(site_id)
        # The whole table's stamp: a deactivated or deleted term changes it too.
        stamp = tuple(SensitiveTerm.objects.aggregate(n=Count("pk"), at=Max("updated_at")).values())
        with self._lock:
            entry = self._entries.get(site_id)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        rows = SensitiveTerm.objects.filter(query).values_list("pk", "term", "category", "action")
        matcher = Matcher(Term(text, category, action, pk) for pk, text, category, action in rows)
        with self._lock:
            self._entries[site_id] = (stamp, matcher)
        return matcher


_matchers = _MatcherCache()


def guard_matcher(*, site_id: int | None) -> Matcher:
    """The active sensitive terms of every site plus those of ``site_id``, ready to match.

    The term table's stamp is read at most once a second (``apps/core/memo.py``).
    """
    return site_settings.get(("guard", site_id), lambda: _matchers.get(site_id))


@dataclass(frozen=True)
class QuestionContext:
    """Everything about one visitor message the pipeline reads before answering it."""

    conversation: Conversation
    site: Site
    # The visitor message's text.
    question: str
    settings: BotSettings
    # Earlier visitor and bot/agent turns, oldest first (system messages left out).
    turns: list[Turn]
    # The conversation's language, else the visitor's, else the site's default.
    fallback_language: str
    # The previous answer's decision in this conversation ("" for the first question).
    previous_decision: str
    # Answers in a row, just before this question, the bot could not ground.
    abstentions: int


def question_context(*, conversation_id: int, question_id: int) -> QuestionContext:
    conversation = Conversation.objects.select_related("site", "visitor").get(pk=conversation_id)
    seq, question, turns = _question_and_turns(conversation_id, question_id)
    decisions = list(
        AnswerAudit.objects.filter(
            conversation_id=conversation_id, question__seq__lt=seq, for_agent=False
        )
        .order_by("-question__seq")
        .values_list("decision", flat=True)[:HISTORY_LIMIT]
    )
    abstentions = 0
    for decision in decisions:
        if decision not in (AnswerAudit.Decision.ABSTAIN, AnswerAudit.Decision.FAIL):
            break
        abstentions += 1
    site = conversation.site
    return QuestionContext(
        conversation=conversation,
        site=site,
        question=question,
        settings=bot_settings_get(site=site),
        turns=turns,
        fallback_language=conversation_language(conversation),
        previous_decision=decisions[0] if decisions else "",
        abstentions=abstentions,
    )


def _question_and_turns(conversation_id: int, question_id: int) -> tuple[int, str, list[Turn]]:
    """The question's seq and text and the turns before it, oldest first, in one statement."""
    question_seq = Message.objects.filter(pk=question_id, conversation_id=conversation_id)
    rows = list(
        Message.objects.filter(
            conversation_id=conversation_id, seq__lte=Subquery(question_seq.values("seq"))
        )
        .filter(Q(pk=question_id) | ~Q(author_kind=Message.AuthorKind.SYSTEM) & ~Q(text=""))
        .order_by("-seq")
        .values_list("pk", "seq", "author_kind", "text")[: HISTORY_LIMIT + 1]
    )
    if not rows or rows[0][0] != question_id:
        raise Message.DoesNotExist(f"no message {question_id} in conversation {conversation_id}")
    (_, seq, _, question), earlier = rows[0], rows[1:]
    turns = [
        Turn("user" if kind == Message.AuthorKind.VISITOR else "assistant", text)
        for _, _, kind, text in reversed(earlier)
    ]
    return seq, question, turns


def answer_check_ids(*, site_id: int | None = None, collection_id: int | None = None) -> list[int]:
    """The answer checks of one site, of the sites answering from one collection, or all."""
    checks = AnswerCheck.objects.order_by("site_id", "pk")
    if site_id is not None:
        checks = checks.filter(site_id=site_id)
    if collection_id is not None:
        checks = checks.filter(site__knowledge_collections=collection_id)
    return list(checks.values_list("pk", flat=True).distinct())
