"""The bot's own records: the audit of each answer, guard events, the term list, knowledge scans,
answer checks.

(``apps/bot/services.py`` runs the reply task; these are the writes of the answering pipeline.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.bot.answer_checks import CheckResult, answer_checks_evaluate
from apps.bot.evaluation import ANSWERED
from apps.bot.guard import Hit as TermHit
from apps.bot.guard import term_key
from apps.bot.models import AnswerAudit, AnswerCheck, GuardEvent, SensitiveTerm
from apps.bot.selectors import guard_matcher
from apps.bot.trace import GuardVerdict, Trace
from apps.chat.events import Citation
from apps.chat.models import Message
from apps.core.memo import site_settings
from apps.knowledge.models import Article, Collection, FAQEntry, Status


def _guard_event(verdict: GuardVerdict, **where: object) -> GuardEvent:
    hit = verdict.hit
    return GuardEvent(
        source=verdict.source,
        outcome=verdict.outcome,
        term_id=hit.term.id if hit else None,
        term_text=hit.term.text if hit else "",
        category=hit.term.category if hit else "",
        route=verdict.route[:200],
        excerpt=verdict.excerpt,
        article_id=verdict.article_id,
        faq_id=verdict.faq_id,
        **where,
    )


def answer_audit_create(
    *,
    conversation_id: int,
    site_id: int | None,
    question_id: int,
    trace: Trace,
    citations: Sequence[Citation],
    latency_ms: int,
    for_agent: bool = False,
) -> AnswerAudit:
    """Store why the question was answered as it was, with its guard events, in one commit."""
    with transaction.atomic():
        audit = AnswerAudit.objects.create(
            conversation_id=conversation_id,
            question_id=question_id,
            language=trace.language,
            standalone=trace.standalone,
            rewrite=trace.rewrite,
            decision=trace.decision,
            reason=trace.reason,
            top_confidence=trace.top_confidence,
            thresholds=trace.thresholds,
            passages=trace.passages,
            citations=list(citations),
            for_agent=for_agent,
            cached=trace.cached,
            kb_version=trace.kb_version[:300],
            route=trace.route[:200],
            outcome=trace.outcome,
            usage={
                "input_tokens": trace.input_tokens,
                "output_tokens": trace.output_tokens,
                "estimated": trace.tokens_estimated,
            },
            call_id=trace.call_ids[-1] if trace.call_ids else None,
            guard=[
                {
                    "source": v.source,
                    "outcome": v.outcome,
                    "term": v.hit.term.text if v.hit else "",
                    "category": v.hit.term.category if v.hit else "",
                    "route": v.route,
                }
                for v in trace.guard
            ],
            handoff=trace.handoff,
            latency_ms=latency_ms,
        )
        GuardEvent.objects.bulk_create(
            _guard_event(
                verdict,
                site_id=site_id,
                conversation_id=conversation_id,
                message_id=question_id,
            )
            for verdict in trace.guard
        )
    return audit


def answer_audit_reply_link(*, audit: AnswerAudit) -> int | None:
    """Point the audit at the bot message that carried the answer, once it is stored; return
    that message's id."""
    question_seq = Message.objects.filter(pk=audit.question_id).values("seq")
    reply_id = (
        Message.objects.filter(
            conversation_id=audit.conversation_id,
            author_kind=Message.AuthorKind.BOT,
            seq__gt=Subquery(question_seq),
        )
        .order_by("seq")
        .values_list("pk", flat=True)
        .first()
    )
    if reply_id is not None:
        AnswerAudit.objects.filter(pk=audit.pk).update(reply_id=reply_id)
    return reply_id


def guard_events_review(*, event_ids: Sequence[int], user: object) -> int:
    """Mark events as looked at by ``user``; return how many were not yet."""
    return GuardEvent.objects.filter(pk__in=event_ids, reviewed_at__isnull=True).update(
        reviewed_at=timezone.now(), reviewed_by=user
    )


@dataclass(frozen=True)
class ScanResult:
    entries: int
    flagged: int


def kb_guard_scan(*, collection_ids: Iterable[int] | None = None) -> ScanResult:
    """Flag for review every published entry that contains a sensitive term.

    Each (entry, term) is flagged once, however often the scan runs; terms of a site apply to
    the collections that site answers from. Run by the admin (``bot_guard_scan``, the term list's
    action) and after an import.
    """
    collections = Collection.objects.prefetch_related("sites")
    if collection_ids is not None:
        collections = collections.filter(pk__in=list(collection_ids))
    entries = flagged = 0
    for collection in collections:
        site_ids: list[int | None] = [site.pk for site in collection.sites.all()] or [None]
        matchers = [guard_matcher(site_id=site_id) for site_id in site_ids]
        published = Q(collection=collection, status=Status.PUBLISHED)
        found: list[tuple[Article | FAQEntry, str]] = [
            (article, f"{article.title}\n{article.body}")
            for article in Article.objects.filter(published).iterator()
        ]
        found += [
            (faq, f"{faq.question}\n{faq.alternatives}\n{faq.answer}")
            for faq in FAQEntry.objects.filter(published).iterator()
        ]
        for entry, text in found:
            entries += 1
            hits = {hit.term: hit for matcher in matchers for hit in matcher.find(text)}
            flagged += _flag(entry, text, list(hits.values()))
    return ScanResult(entries=entries, flagged=flagged)


def _flag(entry: Article | FAQEntry, text: str, hits: list[TermHit]) -> int:
    if not hits:
        return 0
    where = {"article": entry} if isinstance(entry, Article) else {"faq": entry}
    known = set(
        GuardEvent.objects.filter(source=GuardEvent.Source.KNOWLEDGE, **where).values_list(
            "term_text", flat=True
        )
    )
    new = [hit for hit in hits if hit.term.text not in known]
    GuardEvent.objects.bulk_create(
        GuardEvent(
            source=GuardEvent.Source.KNOWLEDGE,
            outcome=GuardEvent.Outcome.FLAGGED,
            term_id=hit.term.id,
            term_text=hit.term.text,
            category=hit.term.category,
            excerpt=hit.excerpt(text),
            **where,
        )
        for hit in new
    )
    return len(new)


def sensitive_terms_add(
    *, terms: Iterable[str], category: str, action: str, site_id: int | None = None
) -> int:
    """Add many terms at once (a pasted list); ones already listed for that scope, in any case
    or width, are skipped, and so is a second spelling of one term in the list."""
    scope = Q(site__isnull=True) if site_id is None else Q(site_id=site_id)
    seen = {
        term_key(term)
        for term in SensitiveTerm.objects.filter(scope).values_list("term", flat=True)
    }
    wanted = []
    for term in (line.strip()[:100] for line in terms):
        key = term_key(term)
        if key and key not in seen:
            seen.add(key)
            wanted.append(term)
    created = SensitiveTerm.objects.bulk_create(
        SensitiveTerm(term=term, category=category, action=action, site_id=site_id)
        for term in wanted
    )
    site_settings.forget()  # bulk_create sends no post_save
    return len(created)


def answer_checks_run(*, check_ids: Sequence[int]) -> list[CheckResult]:
    """Run the checks (``answer_checks``) and store each one's result as its last run."""
    checks = list(AnswerCheck.objects.filter(pk__in=check_ids).select_related("site"))
    results = answer_checks_evaluate(checks=checks)
    now = timezone.now()
    for result in results:
        check = result.check
        check.last_run_at = now
        check.last_passed = result.passed
        check.last_decision = result.decision
        check.last_reason = result.reason
        check.last_cited = result.cited
        check.last_problem = result.problem
    AnswerCheck.objects.bulk_update(
        [r.check for r in results],
        [
            "last_run_at",
            "last_passed",
            "last_decision",
            "last_reason",
            "last_cited",
            "last_problem",
        ],
    )
    return results


# Earlier visitor messages a follow-up's check keeps, at most.
_CHECK_HISTORY = 5


@dataclass(frozen=True)
class ChecksFromAudits:
    created: int
    # Already a check, or nothing to expect (a handoff, a model failure, a cached answer).
    skipped: int


def answer_checks_from_audits(*, audit_ids: Sequence[int]) -> ChecksFromAudits:
    """Freeze what the bot did: one check per audit, expecting its citations or its decline.

    A follow-up keeps the visitor's earlier messages. An audit whose decision says nothing about
    the knowledge base (a handoff, a failed model), a cached answer (its passages are not
    recorded) and a question that already has a check are skipped.
    """
    audits = list(
        AnswerAudit.objects.filter(pk__in=audit_ids).select_related("question", "conversation")
    )
    site_ids = {audit.conversation.site_id for audit in audits}
    taken = {
        (site_id, question, tuple(history))
        for site_id, question, history in AnswerCheck.objects.filter(
            site_id__in=site_ids
        ).values_list("site_id", "question", "history")
    }
    new: list[AnswerCheck] = []
    for audit in audits:
        check = _check_from_audit(audit)
        if check is None:
            continue
        key = (check.site_id, check.question, tuple(check.history))
        if key not in taken:
            taken.add(key)
            new.append(check)
    AnswerCheck.objects.bulk_create(new)
    return ChecksFromAudits(len(new), len(audits) - len(new))


def _check_from_audit(audit: AnswerAudit) -> AnswerCheck | None:
    question = audit.question
    history: list[str] = []
    if audit.rewrite:
        earlier = Message.objects.filter(
            conversation_id=audit.conversation_id,
            author_kind=Message.AuthorKind.VISITOR,
            seq__lt=question.seq,
        ).order_by("-seq")[:_CHECK_HISTORY]
        history = [m.text for m in reversed(earlier)]
    check = AnswerCheck(site_id=audit.conversation.site_id, question=question.text, history=history)
    if audit.decision in ANSWERED:
        keys = dict.fromkeys(p["external_id"] or p["title"] for p in audit.passages if p["cited"])
        if not keys:
            return None
        check.expect = AnswerCheck.Expect.ANSWER
        check.expected_entries = "\n".join(keys)
    elif audit.decision in (AnswerAudit.Decision.ABSTAIN, AnswerAudit.Decision.REFUSE):
        check.expect = AnswerCheck.Expect.DECLINE
    else:
        return None
    check.note = _("from the answer of %(when)s") % {"when": audit.created_at.date().isoformat()}
    return check
