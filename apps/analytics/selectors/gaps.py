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
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.functions import Cast

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
VECTOR_CACHE_SECONDS = 30 * 24 * 3600
LIGHT_TERMS = FUNCTION_WORDS | CHINESE_FUNCTION_WORDS


@dataclass
class _Wording:
    """One distinct gap question: how often, where, in which language, when last asked."""

    asked: int
    language: str
    last_at: dt.datetime
    conversations: set[int]


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
    # An agent's first reply in one of the group's tickets, and that ticket.
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
        # Its question is an abstention already.
        .exclude(
            Exists(
                AnswerAudit.objects.filter(
                    conversation=OuterRef("conversation"), decision=AnswerAudit.Decision.ABSTAIN
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
            .annotate(n=Count("pk"), language=Max("language"), last_at=Max("created_at"))
            .order_by()
        )
        for row in rows:
            if not row["text"].strip():
                continue
            known = out.setdefault(row["text"], _Wording(0, row["language"], row["last_at"], set()))
            known.asked += row["n"]
            known.last_at = max(known.last_at, row["last_at"])
            known.conversations.add(row["conversation_id"])
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
    # A gap's tickets were opened after its question, so within or after the period.
    tickets: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in (
        Ticket.objects.filter(site=site, created_at__gte=period.start)
        .order_by("-created_at", "-pk")
        .values("pk", "conversation_id", "faq_entry_id", "first_responded_at")
    ):
        tickets[row["conversation_id"]].append(row)
    groups = [_gap_group(texts, wordings, tickets) for texts in grouped]
    return _with_agent_answers(groups)


def _gap_group(
    texts: list[str], wordings: dict[str, _Wording], tickets: dict[int, list[Mapping[str, Any]]]
) -> GapGroup:
    conversations = set().union(*(wordings[text].conversations for text in texts))
    group_tickets = [t for cid in sorted(conversations) for t in tickets.get(cid, [])]
    answered = next((t for t in group_tickets if t["first_responded_at"]), None)
    drafted = next((t for t in group_tickets if t["faq_entry_id"]), None)
    languages: Counter[str] = Counter()
    for text in texts:
        languages[wordings[text].language] += wordings[text].asked
    return GapGroup(
        question=texts[0],
        examples=texts[1:EXAMPLES],
        asked=sum(wordings[text].asked for text in texts),
        conversations=len(conversations),
        language=languages.most_common(1)[0][0],
        last_asked_at=max(wordings[text].last_at for text in texts),
        tickets=len(group_tickets),
        ticket_ids=sorted(t["pk"] for t in group_tickets)[:TICKET_IDS],
        answer_ticket_id=answered["pk"] if answered else None,
        faq_draft_id=drafted["faq_entry_id"] if drafted else None,
    )


def _with_agent_answers(groups: list[GapGroup]) -> list[GapGroup]:
    """Fill in each group's agent answer: the agent's first reply in its answered ticket."""
    first_reply = Message.objects.filter(
        conversation=OuterRef("conversation"),
        author_kind=Message.AuthorKind.AGENT,
        created_at__gte=OuterRef("created_at"),
    ).order_by("seq")
    answers = dict(
        Ticket.objects.filter(pk__in=[g.answer_ticket_id for g in groups if g.answer_ticket_id])
        .annotate(text=Subquery(first_reply.values("text")[:1]))
        .values_list("pk", "text")
    )
    return [
        replace(group, agent_answer=answers.get(group.answer_ticket_id) or "")
        if group.answer_ticket_id
        else group
        for group in groups
    ]
