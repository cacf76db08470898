"""Knowledge gaps: what visitors asked that the knowledge base could not answer, grouped, ranked.

A gap question is one the bot abstained on (no passage confident enough), or the question of a
ticket handed off for missing knowledge without such an abstention. Questions are grouped with
the knowledge search's own analyzer and, when dense retrieval is on, its embedder
(``apps/analytics/grouping.py``); groups are ranked by how often they were asked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast, Left

from apps.analytics.grouping import CHINESE_FUNCTION_WORDS, Question, questions_group
from apps.analytics.selectors.common import Period
from apps.bot.models import AnswerAudit
from apps.chat.models import Message
from apps.handoff.models import Ticket
from apps.knowledge.search.analyzer import FUNCTION_WORDS
from apps.knowledge.search.embedders import (
    EMBED_MAX_CHARS,
    Embedder,
    embedder_get,
    vector_from_bytes,
    vector_to_bytes,
)
from apps.knowledge.search.engine import analyzer_current, indexes_fresh
from apps.knowledge.search.lexical import idf
from apps.knowledge.selectors import collections_for_site
from apps.sites.models import Site

logger = logging.getLogger(__name__)

# The most asked wordings read per period; in a busy period the rarest ones are left out.
MAX_WORDINGS = 2000
# Groups whose lead question is embedded to merge rephrasings the words miss; the model costs
# tens of milliseconds a question, so only the groups that rank high get it.
MAX_EMBEDDED = 150
EXAMPLES = 5
TICKET_IDS = 20
# The askings of a group searched for an agent's answer; the first one answered gives it.
ANSWER_WINDOWS = 5
VECTOR_CACHE_SECONDS = 30 * 24 * 3600
LIGHT_TERMS = FUNCTION_WORDS | CHINESE_FUNCTION_WORDS


@dataclass
class _Wording:
    """One distinct gap question: how often, where, in which language, when last asked."""

    asked: int
    language: str
    last_at: dt.datetime
    # Each conversation it was asked in, and when first.
    asked_in: dict[int, dt.datetime]


@dataclass(frozen=True)
class GapGroup:
    # The wording asked most often, then the other wordings, most asked first.
    question: str
    examples: list[str]
    asked: int
    conversations: int
    language: str
    last_asked_at: dt.datetime
    # How many of the group's conversations were handed to agents, and the first few tickets.
    tickets: int
    ticket_ids: list[int]
    # An agent's first reply to one of the group's questions, and the ticket it was in.
    agent_answer: str = ""
    answer_ticket_id: int | None = None
    # A draft FAQ entry an agent already promoted from one of the group's tickets.
    faq_draft_id: int | None = None


def _sources(site: Site, period: Period) -> list[QuerySet[Any]]:
    """Where gap questions are, each row with its ``text``: abstentions, then handoffs."""
    in_period = {"created_at__gte": period.start, "created_at__lt": period.end}
    # The question as searched: a follow-up ("那运费呢？") reads whole.
    abstained = (
        AnswerAudit.objects.filter(
            conversation__site=site,
            decision=AnswerAudit.Decision.ABSTAIN,
            for_agent=False,
            **in_period,
        )
        .exclude(standalone="")
        .annotate(text=F("standalone"))
    )
    handed_off = (
        Ticket.objects.filter(site=site, reason=Ticket.Reason.MISSING_KNOWLEDGE, **in_period)
        .exclude(subject="")
        # Its question is an abstention already; another question of the conversation the bot
        # abstained on is not it.
        .exclude(
            Exists(
                AnswerAudit.objects.annotate(
                    asked=Left("question__text", Ticket._meta.get_field("subject").max_length)
                ).filter(
                    conversation=OuterRef("conversation"),
                    decision=AnswerAudit.Decision.ABSTAIN,
                    for_agent=False,
                    asked=OuterRef("subject"),
                )
            )
        )
        .annotate(text=Cast("subject", TextField()))
    )
    return [abstained.order_by(), handed_off.order_by()]


def _wordings(sources: list[QuerySet[Any]]) -> dict[str, _Wording]:
    """The most asked distinct questions with their counts, read in one grouped query each."""
    out: dict[str, _Wording] = {}
    for source in sources:
        rows = (
            source.values("text", "conversation_id")
            .annotate(
                n=Count("pk"),
                language=Max("language"),
                first_at=Min("created_at"),
                last_at=Max("created_at"),
            )
            .order_by()
        )
        for row in rows:
            if not row["text"].strip():
                continue
            known = out.setdefault(row["text"], _Wording(0, row["language"], row["last_at"], {}))
            known.asked += row["n"]
            known.last_at = max(known.last_at, row["last_at"])
            cid = row["conversation_id"]
            known.asked_in[cid] = min(known.asked_in.get(cid, row["first_at"]), row["first_at"])
    ranked = sorted(out, key=lambda text: (-out[text].asked, text))[:MAX_WORDINGS]
    return {text: out[text] for text in ranked}


def _vectors(embedder: Embedder, texts: list[str]) -> list[np.ndarray | None]:
    """The embedder's question vectors, from the cache where it has them."""
    keys = [
        "analytics:qv:" + hashlib.sha256(f"{embedder.name}\0{text}".encode()).hexdigest()
        for text in texts
    ]
    cached = cache.get_many(keys)
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        try:
            fresh = embedder.embed_queries([texts[i][:EMBED_MAX_CHARS] for i in missing])
        except Exception:
            # The embeddings provider can be down; the words still group the questions.
            logger.warning("embedding gap questions failed; grouping by words", exc_info=True)
            return [vector_from_bytes(cached[k]) if k in cached else None for k in keys]
        new = {keys[i]: vector_to_bytes(fresh[n]) for n, i in enumerate(missing)}
        cache.set_many(new, VECTOR_CACHE_SECONDS)
        cached.update(new)
    return [vector_from_bytes(cached[key]) for key in keys]


def _grouped(site: Site, texts: Counter[str]) -> list[list[str]]:
    """Group distinct texts by words, then merge the top groups whose lead questions mean alike.

    Words are weighted by their idf in the site's knowledge base, read from the same indexes
    the bot searches.
    """
    embedder = embedder_get()
    collection_ids = list(collections_for_site(site_id=site.pk).values_list("pk", flat=True))
    if collection_ids:
        indexes, analyzer = indexes_fresh(collection_ids=collection_ids, embedder=embedder)
    else:  # no knowledge base yet: every question is a gap, every word equally rare
        indexes, analyzer = [], analyzer_current()
    doc_count = sum(index.lexical.doc_count for index in indexes)
    questions = [Question(t, n, tuple(analyzer.terms(t))) for t, n in texts.most_common()]
    weights = {
        term: idf(doc_count, sum(index.lexical.term_df(term) for index in indexes))
        for term in {term for q in questions for term in q.terms}
    }
    groups = [
        [questions[i] for i in members]
        for members in questions_group(questions, weights=weights, light_terms=LIGHT_TERMS)
    ]
    if embedder is None or len(groups) < 2:
        return [[q.text for q in group] for group in groups]
    leads = [group[0].text for group in groups[:MAX_EMBEDDED]]
    vectors = _vectors(embedder, leads) + [None] * (len(groups) - len(leads))
    merged = questions_group(
        [
            replace(
                group[0],
                count=sum(q.count for q in group),
                terms=tuple(term for q in group for term in q.terms),
                vector=vector,
            )
            for group, vector in zip(groups, vectors, strict=True)
        ],
        weights=weights,
        light_terms=LIGHT_TERMS,
    )
    return [[q.text for g in members for q in groups[g]] for members in merged]


def knowledge_gaps(*, site: Site, period: Period, limit: int = 20) -> list[GapGroup]:
    """The period's gap questions in groups, most asked first; at most ``limit`` groups."""
    wordings = _wordings(_sources(site, period))
    if not wordings:
        return []
    counts = Counter({text: wording.asked for text, wording in wordings.items()})
    grouped = _grouped(site, counts)[:limit]
    # A gap's ticket was opened after its question, within or after the period, or was still
    # open when it was asked (a left message keeps the bot answering).
    candidates = Ticket.objects.filter(site=site).filter(
        Q(created_at__gte=period.start)
        | Q(status__in=Ticket.ACTIVE)
        | Q(solved_at__gte=period.start)
        | Q(closed_at__gte=period.start)
    )
    tickets: dict[int, list[_TicketRow]] = defaultdict(list)
    for row in candidates.order_by("created_at", "pk").values(
        "pk",
        "conversation_id",
        "created_at",
        "solved_at",
        "closed_at",
        "faq_entry_id",
        "first_responded_at",
    ):
        tickets[row["conversation_id"]].append(row)
    # When the bot took each of those conversations' questions: a ticket opened after a gap
    # question is that question's only until the visitor asked something else.
    turns: dict[int, list[dt.datetime]] = defaultdict(list)
    for cid, at in (
        AnswerAudit.objects.filter(
            conversation_id__in=candidates.values("conversation_id"),
            for_agent=False,
            created_at__gte=period.start,
        )
        .order_by("created_at")
        .values_list("conversation_id", "created_at")
    ):
        turns[cid].append(at)
    return _with_agent_answers([_gap_group(texts, wordings, tickets, turns) for texts in grouped])


_TicketRow = Mapping[str, Any]


@dataclass(frozen=True)
class _Window:
    """Where the agent's answer to one asking of a gap question is: the first agent message
    of ``conversation_id`` from ``since`` (the question, or its ticket's opening if later) until
    ``until`` (the conversation's next ticket), if any."""

    ticket_id: int
    conversation_id: int
    since: dt.datetime
    until: dt.datetime | None


def _ticket_for(
    tickets: list[_TicketRow], asked_at: dt.datetime, turns: list[dt.datetime]
) -> int | None:
    """The index in ``tickets`` (one conversation's, oldest first) of the ticket a question
    asked at ``asked_at`` went to: the one open then, else the next one opened before the
    conversation's next question (``turns``: when the bot took each, oldest first)."""
    next_turn = next((at for at in turns if at > asked_at), None)
    for index, ticket in enumerate(tickets):
        if ticket["created_at"] > asked_at:
            opened_for_it = next_turn is None or ticket["created_at"] < next_turn
            return index if opened_for_it else None
        ended = min((t for t in (ticket["solved_at"], ticket["closed_at"]) if t), default=None)
        if ended is None or ended > asked_at:
            return index
    return None


def _gap_group(
    texts: list[str],
    wordings: dict[str, _Wording],
    tickets: dict[int, list[_TicketRow]],
    turns: dict[int, list[dt.datetime]],
) -> tuple[GapGroup, list[_Window]]:
    """The group of ``texts`` and where to look for an agent's answer, most asked first.

    A group's tickets are the ones its questions went to, never a ticket of the same
    conversation opened after the visitor moved on to another question: that one was opened
    for something else.
    """
    conversations = set().union(*(wordings[text].asked_in for text in texts))
    group_tickets: dict[int, _TicketRow] = {}
    windows: list[_Window] = []
    for text in texts:
        for cid, asked_at in sorted(wordings[text].asked_in.items()):
            index = _ticket_for(tickets.get(cid, []), asked_at, turns.get(cid, []))
            if index is None:
                continue
            ticket = tickets[cid][index]
            group_tickets.setdefault(ticket["pk"], ticket)
            if ticket["first_responded_at"] and len(windows) < ANSWER_WINDOWS:
                later = tickets[cid][index + 1 : index + 2]
                windows.append(
                    _Window(
                        ticket_id=ticket["pk"],
                        conversation_id=cid,
                        since=max(asked_at, ticket["created_at"]),
                        until=later[0]["created_at"] if later else None,
                    )
                )
    drafted = next((t for t in group_tickets.values() if t["faq_entry_id"]), None)
    languages: Counter[str] = Counter()
    for text in texts:
        languages[wordings[text].language] += wordings[text].asked
    group = GapGroup(
        question=texts[0],
        examples=texts[1:EXAMPLES],
        asked=sum(wordings[text].asked for text in texts),
        conversations=len(conversations),
        language=languages.most_common(1)[0][0],
        last_asked_at=max(wordings[text].last_at for text in texts),
        tickets=len(group_tickets),
        ticket_ids=sorted(group_tickets)[:TICKET_IDS],
        faq_draft_id=drafted["faq_entry_id"] if drafted else None,
    )
    return group, windows


def _with_agent_answers(groups: list[tuple[GapGroup, list[_Window]]]) -> list[GapGroup]:
    """Fill in each group's agent answer: the first agent reply after one of its questions, in
    the ticket that question went to (the first of its windows that has one)."""
    windows = [window for _group, group_windows in groups for window in group_windows]
    if not windows:
        return [group for group, _windows in groups]
    within = Q()
    for window in windows:
        span = Q(conversation_id=window.conversation_id, created_at__gte=window.since)
        within |= span & Q(created_at__lt=window.until) if window.until else span
    replies: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for pk, cid, created_at in (
        Message.objects.filter(within, author_kind=Message.AuthorKind.AGENT)
        .order_by("conversation_id", "seq")
        .values_list("pk", "conversation_id", "created_at")
    ):
        replies[cid].append((created_at, pk))
    chosen = [
        next(
            (
                (window, pk)
                for window in group_windows
                for created_at, pk in replies[window.conversation_id]
                if created_at >= window.since
                and (window.until is None or created_at < window.until)
            ),
            None,
        )
        for _group, group_windows in groups
    ]
    texts = dict(
        Message.objects.filter(pk__in=[c[1] for c in chosen if c]).values_list("pk", "text")
    )
    return [
        replace(group, agent_answer=texts[c[1]], answer_ticket_id=c[0].ticket_id) if c else group
        for (group, _windows), c in zip(groups, chosen, strict=True)
    ]
