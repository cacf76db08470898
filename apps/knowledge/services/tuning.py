"""Writes to the search tuning: dictionary words, synonym groups, protected token patterns.

A change takes effect without a restart: the tuning version is bumped, and every passage whose
text the change can affect is re-analyzed under the new tuning and re-stamped, so indexes in
every process pick it up on their next search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from apps.knowledge.models import (
    DictionaryWord,
    Passage,
    ProtectedPattern,
    SynonymGroup,
    TuningState,
)
from apps.knowledge.search.analyzer import synonym_classes
from apps.knowledge.services.content import passages_reanalyze

TuningObject = DictionaryWord | SynonymGroup | ProtectedPattern


def tuning_save(*, obj: TuningObject) -> TuningObject:
    """Create or update a dictionary word, synonym group or pattern; re-analyze what it affects."""
    with transaction.atomic():
        before = _affects(type(obj).objects.filter(pk=obj.pk).first()) if obj.pk else _Affects()
        obj.save()
        _tuning_changed(before | _affects(obj))
    return obj


def tuning_delete(*, obj: TuningObject) -> None:
    with transaction.atomic():
        affected = _affects(obj)
        obj.delete()
        _tuning_changed(affected)


class _Affects:
    """The texts a tuning object can change the analysis of: literal terms and patterns."""

    def __init__(self, terms: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.terms = {t for t in terms if t}
        self.patterns = {p for p in patterns if p}

    def __or__(self, other: _Affects) -> _Affects:
        return _Affects(self.terms | other.terms, self.patterns | other.patterns)


def _affects(obj: TuningObject | None) -> _Affects:
    if isinstance(obj, DictionaryWord):
        return _Affects(terms=[obj.word])
    if isinstance(obj, SynonymGroup):
        return _Affects(terms=_synonym_class_terms(obj.term_list))
    if isinstance(obj, ProtectedPattern):
        return _Affects(patterns=[obj.pattern])
    return _Affects()


def _synonym_class_terms(terms: list[str]) -> set[str]:
    """``terms`` and those of every group they join into one class (``synonym_classes``): a
    group saved or deleted can change the one term all of them are indexed as."""
    groups = [[t.casefold() for t in group.term_list] for group in SynonymGroup.objects.all()]
    classes = synonym_classes([*groups, [t.casefold() for t in terms]])
    roots = {classes[t.casefold()] for t in terms}
    return {term for term, first in classes.items() if first in roots}


def _tuning_changed(affected: _Affects) -> None:
    state, _ = TuningState.objects.select_for_update().get_or_create(pk=1)
    state.version += 1
    state.save(update_fields=["version"])
    candidates = Passage.objects.all()
    if affected.terms and not affected.patterns:
        match = Q()
        for term in affected.terms:
            match |= Q(text__icontains=term) | Q(title__icontains=term)
        candidates = candidates.filter(match)
    compiled = [re.compile(p, re.IGNORECASE) for p in affected.patterns]

    def matches_a_pattern(passage: Passage) -> bool:
        return any(c.search(passage.title) or c.search(passage.text) for c in compiled)

    passages_reanalyze(passages=candidates, keep=matches_a_pattern if compiled else None)


def tuning_demo_apply(
    *, words: list[str], synonyms: list[str], patterns: list[dict[str, str]]
) -> None:
    """Add the demo's dictionary words, synonym groups and patterns that are not there yet."""
    for word in words:
        if not DictionaryWord.objects.filter(word=word).exists():
            tuning_save(obj=DictionaryWord(word=word, note="demo"))
    for terms in synonyms:
        if not SynonymGroup.objects.filter(terms=terms).exists():
            tuning_save(obj=SynonymGroup(terms=terms))
    for pattern in patterns:
        if not ProtectedPattern.objects.filter(pattern=pattern["pattern"]).exists():
            tuning_save(obj=ProtectedPattern(name=pattern["name"], pattern=pattern["pattern"]))
