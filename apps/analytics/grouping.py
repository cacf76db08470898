"""Group questions that ask the same thing, for the knowledge-gap list. Framework-free.

Each question is the knowledge search's own terms (jieba with the admin's dictionary, synonyms
and protected codes; stemmed English), weighted by the caller — the selector uses the knowledge
base's idf, so words the help centre uses everywhere say little and words it has never seen say
the most — and, when dense retrieval is on, the search's sentence vector. Two questions are
alike by the better of their term cosine and their vector cosine rescaled above
``DENSE_FLOOR`` (multilingual-e5 puts unrelated short questions at 0.80–0.89 and rephrasings at
0.90–0.98, so the raw cosine would join everything).

Grouping is greedy and deterministic: questions are taken most frequent first; each joins the
group whose centroid it is most alike, if at least ``THRESHOLD``, else starts a group.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

THRESHOLD = 0.5
DENSE_FLOOR = 0.8
# Question and function words say little about what is asked: they weigh half. The search's
# analyzer lists the English ones; these are their Chinese counterparts, as jieba cuts them.
LIGHT_WEIGHT = 0.5
CHINESE_FUNCTION_WORDS = frozenset(
    """
    吗 呢 吧 啊 呀 了 的 地 得 是 我 我们 你 你们 您 他 她 它 这 那 这个 那个 这样 什么 怎么
    怎么样 怎样 如何 为什么 哪 哪里 哪儿 哪个 多少 几 可以 能 能不能 可不可以 会 要 想 有 有没有
    没有 请 请问 一下 在 和 与 或 还是 就 都 也
    """.split()  # noqa: SIM905 - a word list reads best as text
)

SparseVector = dict[str, float]


@dataclass(frozen=True)
class Question:
    """One distinct question text, how often it was asked, and its representations."""

    text: str
    count: int
    terms: tuple[str, ...]
    vector: np.ndarray | None = None


def _normalised(vector: SparseVector) -> SparseVector:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


def _term_vector(
    terms: Sequence[str], weights: Mapping[str, float], light: frozenset[str]
) -> SparseVector:
    counts = Counter(terms)
    return _normalised(
        {
            term: (1 + math.log(n))
            * weights.get(term, 1.0)
            * (LIGHT_WEIGHT if term in light else 1.0)
            for term, n in counts.items()
        }
    )


def _dot(a: SparseVector, b: SparseVector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


class _Group:
    def __init__(self, index: int, terms: SparseVector, vector: np.ndarray | None) -> None:
        self.members = [index]
        self._terms_sum = dict(terms)
        self._vector_sum = None if vector is None else vector.copy()
        self.terms = terms
        self.vector = vector

    def add(self, index: int, terms: SparseVector, vector: np.ndarray | None) -> None:
        self.members.append(index)
        for term, weight in terms.items():
            self._terms_sum[term] = self._terms_sum.get(term, 0.0) + weight
        self.terms = _normalised(self._terms_sum)
        if vector is not None and self._vector_sum is not None:
            self._vector_sum += vector
            norm = float(np.linalg.norm(self._vector_sum))
            self.vector = self._vector_sum / norm if norm else self._vector_sum


def similarity(
    terms_a: SparseVector,
    terms_b: SparseVector,
    vector_a: np.ndarray | None,
    vector_b: np.ndarray | None,
) -> float:
    """How alike two questions (or a question and a group) are, from 0 to 1."""
    lexical = _dot(terms_a, terms_b)
    if vector_a is None or vector_b is None:
        return lexical
    dense = (float(vector_a @ vector_b) - DENSE_FLOOR) / (1 - DENSE_FLOOR)
    return max(lexical, min(max(dense, 0.0), 1.0))


def questions_group(
    questions: Sequence[Question],
    *,
    weights: Mapping[str, float] | None = None,
    light_terms: frozenset[str] = frozenset(),
    threshold: float = THRESHOLD,
) -> list[list[int]]:
    """Group ``questions``; return each group's indexes into ``questions``, largest group first.

    ``weights`` gives each term its weight (1 for terms it lacks). Within a group, indexes are
    in the order the questions joined: most asked first.
    """
    vectors = [_term_vector(q.terms, weights or {}, light_terms) for q in questions]
    order = sorted(range(len(questions)), key=lambda i: (-questions[i].count, questions[i].text))
    groups: list[_Group] = []
    for index in order:
        terms, vector = vectors[index], questions[index].vector
        best, best_score = None, 0.0
        for group in groups:
            score = similarity(terms, group.terms, vector, group.vector)
            # Ties go to the earlier group: it holds the more frequent questions.
            if score >= threshold and score > best_score:
                best, best_score = group, score
        if best is None:
            groups.append(_Group(index, terms, vector))
        else:
            best.add(index, terms, vector)
    sizes = [sum(questions[i].count for i in group.members) for group in groups]
    ranked = sorted(range(len(groups)), key=lambda g: -sizes[g])
    return [groups[g].members for g in ranked]
