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
from dataclasses import dataclass, replace

import numpy as np
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Subquery

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
from apps.knowledge.search.engine import indexes_fresh
from apps.knowledge.search.lexical import idf
from apps.knowledge.selectors import collections_for_site
from apps.sites.models import Site

logger = logging.getLogger(__name__)

# The newest gap questions read per period; older ones in a busy period are left out.
MAX_QUESTIONS = 2000
# Groups whose lead question is embedded to merge rephrasings the words miss; the model costs
# tens of milliseconds a question, so only the groups that rank high get it.
MAX_EMBEDDED = 150
EXAMPLES = 5
VECTOR_CACHE_SECONDS = 30 * 24 * 3600
LIGHT_TERMS = FUNCTION_WORDS | CHINESE_FUNCTION_WORDS


@dataclass(frozen=True)
class _Asked:
    text: str
    language: str
    conversation_id: int
    at: dt.datetime


@dataclass(frozen=True)
class GapGroup:
    # The wording asked most often, then the other wordings, most asked first.
    question: str
    examples: list[str]
    asked: int
    conversations: int
    language: str
    last_asked_at: dt.datetime
    ticket_ids: list[int]
    # An agent's first reply in one of the group's tickets, and that ticket.
    agent_answer: str = ""
    answer_ticket_id: int | None = None
    # A draft FAQ entry an agent already promoted from one of the group's tickets.
    faq_draft_id: int | None = None


def _asked(site: Site, period: Period) -> list[_Asked]:
    abstained = (
        AnswerAudit.objects.filter(
            conversation__site=site,
            decision=AnswerAudit.Decision.ABSTAIN,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .order_by("-created_at", "-pk")
        .values_list("standalone", "question__text", "language", "conversation_id", "created_at")
    )
    asked = [
        _Asked((standalone or text).strip(), language, conversation_id, at)
        for standalone, text, language, conversation_id, at in abstained[:MAX_QUESTIONS]
    ]
    missing = (
        Ticket.objects.filter(
            site=site,
            reason=Ticket.Reason.MISSING_KNOWLEDGE,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .exclude(subject="")
        .exclude(
            Exists(
                AnswerAudit.objects.filter(
                    conversation=OuterRef("conversation"), decision=AnswerAudit.Decision.ABSTAIN
                )
            )
        )
        .order_by("-created_at", "-pk")
        .values_list("subject", "language", "conversation_id", "created_at")
    )
    room = MAX_QUESTIONS - len(asked)
    asked += [_Asked(text.strip(), lang, cid, at) for text, lang, cid, at in missing[:room]]
    return [item for item in asked if item.text]


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
    indexes, analyzer = indexes_fresh(collection_ids=collection_ids, embedder=embedder)
    doc_count = sum(index.lexical.doc_count for index in indexes)
    questions = [Question(t, n, tuple(analyzer.terms(t))) for t, n in texts.most_common()]
    weights = {
        term: idf(doc_count, sum(index.lexical.term_df(term) for index in indexes))
        for term in {term for q in questions for term in q.terms}
    }
    grouping = {"weights": weights, "light_terms": LIGHT_TERMS}
    groups = [[questions[i] for i in members] for members in questions_group(questions, **grouping)]
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
        **grouping,
    )
    return [[q.text for g in members for q in groups[g]] for members in merged]


def knowledge_gaps(*, site: Site, period: Period, limit: int = 20) -> list[GapGroup]:
    """The period's gap questions in groups, most asked first; at most ``limit`` groups."""
    asked = _asked(site, period)
    if not asked:
        return []
    by_text: dict[str, list[_Asked]] = defaultdict(list)
    for item in asked:
        by_text[item.text].append(item)
    grouped = _grouped(site, Counter({text: len(items) for text, items in by_text.items()}))
    grouped = grouped[:limit]
    conversation_ids = {i.conversation_id for texts in grouped for t in texts for i in by_text[t]}
    tickets = _tickets_by_conversation(conversation_ids)
    return [_gap_group(texts, by_text, tickets) for texts in grouped]


def _tickets_by_conversation(conversation_ids: set[int]) -> dict[int, list[dict]]:
    first_agent_reply = Message.objects.filter(
        conversation=OuterRef("conversation"),
        author_kind=Message.AuthorKind.AGENT,
        created_at__gte=OuterRef("created_at"),
    ).order_by("seq")
    rows = (
        Ticket.objects.filter(conversation_id__in=conversation_ids)
        .annotate(agent_answer=Subquery(first_agent_reply.values("text")[:1]))
        .order_by("-created_at", "-pk")
        .values("pk", "conversation_id", "faq_entry_id", "agent_answer")
    )
    out: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        out[row["conversation_id"]].append(row)
    return out


def _gap_group(
    texts: list[str], by_text: dict[str, list[_Asked]], tickets: dict[int, list[dict]]
) -> GapGroup:
    items = [item for text in texts for item in by_text[text]]
    conversations = {item.conversation_id for item in items}
    group_tickets = [t for cid in sorted(conversations) for t in tickets.get(cid, [])]
    answered = next((t for t in group_tickets if t["agent_answer"]), None)
    drafted = next((t for t in group_tickets if t["faq_entry_id"]), None)
    return GapGroup(
        question=texts[0],
        examples=texts[1:EXAMPLES],
        asked=len(items),
        conversations=len(conversations),
        language=Counter(item.language for item in items).most_common(1)[0][0],
        last_asked_at=max(item.at for item in items),
        ticket_ids=sorted(t["pk"] for t in group_tickets),
        agent_answer=answered["agent_answer"] if answered else "",
        answer_ticket_id=answered["pk"] if answered else None,
        faq_draft_id=drafted["faq_entry_id"] if drafted else None,
    )
