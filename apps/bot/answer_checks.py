"""Answer checks: golden questions answered through the real pipeline and judged.

Each check's question is answered as a visitor's would be (the site's settings, collections
and term list), but by the offline answerer whatever the site's model chain: free and
deterministic, while the decision, the search and the cited entry are the ones a model's
answer would start from. Cache off, nobody handed over, nothing stored as a conversation;
``records.answer_checks_run`` stores each check's last result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.utils.translation import gettext as _

from apps.bot.answer import AnswerFinal
from apps.bot.evaluation import (
    ANSWERED,
    answer_traced,
    ask_following,
    cited_keys,
    settings_uncached,
)
from apps.bot.models import AnswerAudit, AnswerCheck
from apps.bot.selectors import bot_settings_get
from apps.bot.trace import Ask, Trace
from apps.knowledge.models import Article, FAQEntry, Status
from apps.knowledge.selectors import collection_ids_for_site
from apps.llm.services import offline_answerer_only, usage_flush
from apps.sites.models import Site


@dataclass(frozen=True)
class CheckResult:
    check: AnswerCheck
    passed: bool
    decision: str
    reason: str
    # The titles of the sources cited, as the visitor would see them.
    cited: list[str]
    # Why it failed, in words; "" when it passed.
    problem: str


def answer_checks_evaluate(*, checks: Sequence[AnswerCheck]) -> list[CheckResult]:
    """Answer every check's question and judge it against its expected outcome."""
    asks: list[Ask] = []
    entries: dict[int, dict[str, str]] = {}
    templates: dict[int, Ask] = {}
    for check in checks:
        if check.site_id not in templates:
            templates[check.site_id] = _site_ask(check.site)
            entries[check.site_id] = _entry_statuses(templates[check.site_id].collection_ids)
        asks.append(
            ask_following(templates[check.site_id], question=check.question, history=check.history)
        )
    answers = async_to_sync(_answer_all)(asks)
    return [
        _judge(check, trace, final, entries[check.site_id])
        for check, (trace, final) in zip(checks, answers, strict=True)
    ]


def answer_checks_summary(results: Sequence[CheckResult]) -> str:
    """ "N of M answer checks pass; failing: …", for a job's report or a message."""
    failing = [r for r in results if not r.passed]
    text = _("%(passed)d of %(total)d answer checks pass") % {
        "passed": len(results) - len(failing),
        "total": len(results),
    }
    if failing:
        text += _("; failing: %(failing)s") % {
            "failing": "; ".join(f"“{r.check.question[:80]}” ({r.problem})" for r in failing)
        }
    return text + "."


def answer_check_line(result: CheckResult) -> str:
    """One check's result as a table row: pass/FAIL, id, decision, question, cited, problem."""
    mark = "pass" if result.passed else "FAIL"
    cited = ", ".join(result.cited) or "—"
    line = f"{mark}  #{result.check.pk:<5} {result.decision:<8} {result.check.question[:60]:<60}"
    return f"{line}  {cited}" + (f"  ({result.problem})" if result.problem else "")


def _site_ask(site: Site) -> Ask:
    return Ask(
        question="",
        settings=settings_uncached(bot_settings_get(site=site)),
        site_name=site.name,
        site_id=site.pk,
        collection_ids=collection_ids_for_site(site_id=site.pk),
        fallback_language=site.default_language,
        may_hand_off=False,
    )


def _entry_statuses(collection_ids: Sequence[int]) -> dict[str, str]:
    """Every entry of the collections, published or not, by the key a check names it with."""
    statuses: dict[str, str] = {}
    in_collections = {"collection_id__in": collection_ids}
    for external_id, title, status in Article.objects.filter(**in_collections).values_list(
        "external_id", "title", "status"
    ):
        statuses[external_id or title] = status
    for external_id, question, status in FAQEntry.objects.filter(**in_collections).values_list(
        "external_id", "question", "status"
    ):
        statuses[external_id or question] = status
    return statuses


async def _answer_all(asks: list[Ask]) -> list[tuple[Trace, AnswerFinal | None]]:
    with offline_answerer_only():
        answers = [await answer_traced(ask) for ask in asks]
    # The offline answerer's attempts are recorded like any other (at no cost).
    await usage_flush()
    return answers


def _judge(
    check: AnswerCheck, trace: Trace, final: AnswerFinal | None, statuses: dict[str, str]
) -> CheckResult:
    cited = [c["title"] for c in final.citations] if final is not None else []
    answered = trace.decision in ANSWERED
    problem = ""
    if final is None:
        problem = _("the pipeline gave no final answer")
    elif check.expect == AnswerCheck.Expect.DECLINE:
        if answered:
            problem = _("answered citing %(cited)s, expected a decline") % {
                "cited": ", ".join(cited) or "—"
            }
    else:
        problem = _missing_entries(check.expected_keys, statuses)
        if not problem and not answered:
            problem = _("not answered (%(decision)s: %(reason)s)") % {
                "decision": AnswerAudit.Decision(trace.decision).label,
                "reason": AnswerAudit.Reason(trace.reason).label,
            }
        elif not problem and not cited_keys(trace) & set(check.expected_keys):
            problem = _("cited %(cited)s, none of the expected entries") % {
                "cited": ", ".join(cited) or "—"
            }
    return CheckResult(check, not problem, trace.decision, trace.reason, cited, problem)


def _missing_entries(keys: list[str], statuses: dict[str, str]) -> str:
    """Say which expected entries cannot be cited: gone from the knowledge base, or unpublished."""
    if not keys:
        return _("no expected entry is listed")
    gone = [key for key in keys if key not in statuses]
    hidden = [key for key in keys if statuses.get(key, Status.PUBLISHED) != Status.PUBLISHED]
    if len(gone) + len(hidden) < len(keys):
        return ""
    notes = []
    if gone:
        notes.append(_("no longer in the knowledge base: %s") % ", ".join(gone))
    if hidden:
        notes.append(_("not published: %s") % ", ".join(hidden))
    return "; ".join(notes)
