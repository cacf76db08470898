"""Rank passages for a question: BM25 and dense candidates, fused, with a calibrated confidence.

Candidates are the best of each side; their fused score is the BM25 score as a share of the best
the question allows, plus a weighted cosine. Confidence is a logistic model over evidence the
bot can trust: how much of the question's idf mass the passage covers (words the knowledge base
has never seen count as uncovered) and its cosine similarity. The weights were fitted on faq-dev
(docs/knowledge.md, "Confidence"); ``kb_eval --calibration`` reports how well they hold.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from apps.core.lib.typos import respelling_allowed, typo_candidate
from apps.knowledge.search.analyzer import FUNCTION_WORDS, Analyzer, normalize
from apps.knowledge.search.embedders import EMBED_MAX_CHARS, Embedder
from apps.knowledge.search.engine import CollectionIndex
from apps.knowledge.search.lexical import K1, idf, near_words, one_edit_variants

logger = logging.getLogger(__name__)

# Weight of the cosine against the normalised BM25 score. e5 cosines of related texts sit in a
# narrow band (0.75–0.9), so a weight of 5 lets meaning outrank a partial word match while an
# exact code or name match (normalised BM25 near 1) still wins. Tuned on faq-dev: 4–6 are flat.
SEMANTIC_WEIGHT = 5.0
FUNCTION_WORD_WEIGHT = 0.5
# A term the question repeats weighs more, but boundedly: BM25's query-term saturation
# (Robertson's k3), at most k3 + 1 times its idf. Doubling per repeat, as before, made a
# message of one character typed 2,000 times overflow the scores to inf and its confidence to
# NaN. On faq-dev, k3 = 8 ranks as well as doubling or better (Recall@1 0.764 -> 0.767).
QUERY_TERM_SATURATION = 8.0
# A word the collection has never seen but one typo from one it has is searched as that word, at
# this share of its weight: in BM25 and in the coverage, so that a guessed word is weaker
# evidence than a typed one and declines stay calibrated.
TYPO_WEIGHT = 0.7
# Logistic confidence, fitted on faq-dev top hits (kb_eval reports the calibration):
# intercept and coverage weight without vectors; intercept, coverage and cosine weights with.
CONFIDENCE_LEXICAL = (-1.70, 4.13)
CONFIDENCE_HYBRID = (-14.97, 2.70, 16.22)


@dataclass(frozen=True)
class RankedPassage:
    passage_id: int
    collection_id: int
    lexical: float
    coverage: float
    semantic: float | None
    fused: float
    confidence: float
    matched: tuple[str, ...]


@dataclass(frozen=True)
class _QueryTerm:
    term: str
    surface: str
    weight: float
    known: bool
    # The weight the question's idf mass counts (differs from ``weight`` for a corrected word).
    total: float


@dataclass(frozen=True)
class _Question:
    terms: list[_QueryTerm]
    # The question with its corrected words spelt out (lnog -> long), or None if none was.
    respelt: str | None


_SPACES = re.compile(r"\s+")


class QueryVectors:
    """A small LRU of question vectors: customers ask the same things over and over.

    Keyed by the question with its white space collapsed, and that is also the text embedded,
    so a hit and a miss give the same vector.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # searches run on many threads

    def get(self, embedder: Embedder, text: str) -> np.ndarray:
        text = _SPACES.sub(" ", text).strip()[:EMBED_MAX_CHARS]
        key = (embedder.name, text)
        with self._lock:
            vector = self._cache.get(key)
            if vector is not None:
                self._cache.move_to_end(key)
                return vector
        vector = embedder.embed_queries([text])[0]
        with self._lock:
            self._cache[key] = vector
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector

    def clear(self) -> None:
        """Forget every vector (benchmarks measure the model, not the cache)."""
        with self._lock:
            self._cache.clear()


query_vectors = QueryVectors()


def rank(
    *,
    query: str,
    indexes: Sequence[CollectionIndex],
    analyzer: Analyzer,
    embedder: Embedder | None,
    limit: int,
) -> list[RankedPassage]:
    """The ``limit`` best passages over ``indexes``, best first."""
    if limit <= 0 or not query.strip():
        return []
    pool = max(limit * 4, 40)
    question = _query_terms(query, indexes, analyzer)
    terms = question.terms
    weights = {t.term: t.weight for t in terms if t.known}
    # Words no passage has weigh the most in coverage: they are what the KB cannot answer.
    idf_total = sum(t.total for t in terms) or 1.0
    doc_count = sum(i.lexical.doc_count for i in indexes)
    avgdl = sum(i.lexical.total_length for i in indexes) / max(doc_count, 1)

    lexical: dict[int, tuple[float, int]] = {}  # passage id → (BM25, collection id)
    all_scores: dict[int, tuple[np.ndarray, dict[int, float]]] = {}
    for index in indexes:
        scores, delta = index.lexical.score(weights, avgdl) if weights else (np.zeros(0), {})
        all_scores[index.collection_id] = (scores, delta)
        if len(scores):
            top = _top(scores, pool)
            for slot in top:
                if scores[slot] > 0:
                    lexical[int(index.lexical.slot_ids[slot])] = (
                        float(scores[slot]),
                        index.collection_id,
                    )
        for pid, score in delta.items():
            lexical[pid] = (score, index.collection_id)
    lexical_ranked = sorted(lexical, key=lambda pid: -lexical[pid][0])[:pool]

    semantic: dict[int, tuple[float, int]] = {}
    vector = None
    # Embedded after BM25, not beside it on a thread: on this 2-vCPU machine the model ran 2.2x
    # slower while another thread computed, so the overlap saved nothing (A/B, 200 questions,
    # 100k passages: 52.1 ms p50 beside, 51.1 inline).
    if embedder is not None and any(i.dense and i.dense.count for i in indexes):
        vector = _question_vector(embedder, query)
        if vector is not None and question.respelt is not None:
            vector = _blended(vector, _question_vector(embedder, question.respelt))
    if vector is not None:
        for index in indexes:
            if index.dense is not None:
                for pid, similarity in index.dense.search(vector, pool):
                    semantic[pid] = (similarity, index.collection_id)
    semantic_ranked = sorted(semantic, key=lambda pid: -semantic[pid][0])[:pool]

    # Score fusion: BM25 as a share of the best score the question allows (words the collection
    # has never seen included: they cannot match, so they weaken the lexical evidence), plus the
    # weighted cosine. On faq-dev it beats reciprocal-rank fusion in both languages.
    lexical_max = idf_total * (K1 + 1)
    floor = min((semantic[pid][0] for pid in semantic_ranked), default=0.0)
    by_collection = {i.collection_id: i for i in indexes}
    candidates: dict[int, tuple[int, float, float | None]] = {}
    for pid in dict.fromkeys([*lexical_ranked, *semantic_ranked]):
        collection_id = (lexical.get(pid) or semantic[pid])[1]
        index = by_collection[collection_id]
        bm25 = (
            lexical[pid][0]
            if pid in lexical
            else _lexical_of(index, pid, *all_scores[collection_id])
        )
        candidates[pid] = (collection_id, bm25, _cosine_of(index, pid, vector, semantic))
    fused = {
        pid: min(bm25 / lexical_max, 1.0)
        + (SEMANTIC_WEIGHT * (floor if cosine is None else cosine) if vector is not None else 0.0)
        for pid, (_, bm25, cosine) in candidates.items()
    }
    order = sorted(fused, key=lambda pid: (-fused[pid], pid))[:limit]

    out: list[RankedPassage] = []
    for pid in order:
        collection_id, bm25, cosine = candidates[pid]
        index = by_collection[collection_id]
        present = [t for t in terms if t.known and index.lexical.contains(pid, t.term)]
        coverage = sum(t.weight for t in present) / idf_total
        out.append(
            RankedPassage(
                passage_id=pid,
                collection_id=collection_id,
                lexical=bm25,
                coverage=coverage,
                semantic=cosine,
                fused=fused[pid],
                confidence=confidence(coverage, cosine),
                matched=tuple(dict.fromkeys(t.surface for t in present)),
            )
        )
    return out


def unknown_words(
    *, query: str, indexes: Sequence[CollectionIndex], analyzer: Analyzer
) -> set[str]:
    """The words of ``query`` no passage of ``indexes`` has, as typed (folded); a word read as
    a typo of one they have is known."""
    return {t.surface for t in _query_terms(query, indexes, analyzer).terms if not t.known}


def confidence(coverage: float, cosine: float | None) -> float:
    """Probability that a hit answers the question, from its evidence (fitted on faq-dev)."""
    if cosine is None:
        b0, b1 = CONFIDENCE_LEXICAL
        z = b0 + b1 * coverage
    else:
        b0, b1, b2 = CONFIDENCE_HYBRID
        z = b0 + b1 * coverage + b2 * cosine
    return 1.0 / (1.0 + math.exp(-z))


def _query_terms(query: str, indexes: Sequence[CollectionIndex], analyzer: Analyzer) -> _Question:
    """The question's terms, weighted by idf and their saturated count; unknown terms kept,
    unmatched."""
    doc_count = sum(i.lexical.doc_count for i in indexes)
    tokens = analyzer.tokens(query, question=True)
    # Per distinct term: a message of one word typed 2,000 times is 2,000 tokens.
    dfs = {term: sum(i.lexical.term_df(term) for i in indexes) for term in {t.term for t in tokens}}
    typed = {token.term: token.surface for token in tokens}
    corrections = _corrections(
        {term: typed[term] for term, df in dfs.items() if not df}, indexes, analyzer
    )
    dfs.update({word: found.df for word, found in corrections.items()})
    counts: Counter[str] = Counter()
    surfaces: dict[str, str] = {}
    as_typed: set[str] = set()
    respellings: dict[str, str] = {}
    for token in tokens:
        if token.only_if_known and not dfs[token.term]:
            continue  # "in 30" is two words where the knowledge base has no code in30
        if token.part_of is not None and dfs.get(token.part_of):
            # The code matched whole: its parts would count it two or three times over and
            # let "LM-3307" outweigh what the question asks about it ("is broken").
            continue
        found = corrections.get(token.term)
        term = found.term if found else token.term
        if found:
            if token.surface not in respellings:  # once a word, not once a token
                respellings[token.surface] = _respelt(token.surface, found, analyzer)
        else:
            as_typed.add(term)
        dfs.setdefault(term, dfs[token.term])
        counts[term] += 1
        surfaces.setdefault(term, token.surface)
    out = []
    for term, count in counts.items():
        df = dfs[term]
        weight = idf(doc_count, df) * (
            FUNCTION_WORD_WEIGHT if surfaces[term] in FUNCTION_WORDS else 1
        )
        saturation = (QUERY_TERM_SATURATION + 1) * count / (QUERY_TERM_SATURATION + count)
        share = 1.0 if term in as_typed else TYPO_WEIGHT
        full = weight * saturation
        out.append(_QueryTerm(term, surfaces[term], full * share, df > 0, full))
    return _Question(out, _respelt_question(query, respellings) if respellings else None)


@dataclass(frozen=True)
class _Correction:
    term: str
    df: int
    # How the term is written when no word one edit from the typed one has it (a stem, "doe").
    spelling: str


def _corrections(
    unknown: dict[str, str], indexes: Sequence[CollectionIndex], analyzer: Analyzer
) -> dict[str, _Correction]:
    """Each unknown term (→ the word typed) one typo from a collection word or from a one-word
    synonym of one (the index has only its class's term: "shiping" is one edit from ship,
    indexed as ≡发货), a real word only as another form of it (``respelling_allowed``): that
    term, its df and a spelling."""
    out: dict[str, _Correction] = {}
    for term, typed in unknown.items():
        if not typo_candidate(term):
            continue
        near = [(*found, found[0]) for i in indexes if (found := i.lexical.near_term(term))]
        for member in near_words(term, analyzer.word_synonym_deletes):
            canonical = analyzer.word_synonyms[member]
            df = sum(i.lexical.term_df(canonical) for i in indexes)
            if df:
                near.append((canonical, df, member))
        near = [found for found in near if respelling_allowed(typed, term, found[0])]
        if near:
            best, _, spelling = max(near, key=lambda found: (found[1], found[0]))
            df = sum(i.lexical.term_df(best) for i in indexes)
            out[term] = _Correction(best, df, spelling)
    return out


def _respelt(surface: str, correction: _Correction, analyzer: Analyzer) -> str:
    """The word the visitor meant by ``surface``: one edit from it and analysed as the
    correction's term (lnog → long, shiping → shipping), else the term's own spelling."""
    for variant in one_edit_variants(surface):
        if analyzer.word_term(variant) == correction.term:
            return variant
    return correction.spelling


def _respelt_question(query: str, respellings: dict[str, str]) -> str | None:
    """``query`` (width folded) with each corrected word replaced by its respelling; None if
    no word was, so that nothing is embedded twice for nothing.

    A word ends where Latin letters do, not at ``\\b``: in "运费lnog吗" Han characters are word
    characters too. Width is folded first, as the analyzer does, so "ｌｎｏｇ" is found.
    """
    text = unicodedata.normalize("NFKC", query)
    words = re.compile(
        r"(?<![a-z])(?:" + "|".join(map(re.escape, respellings)) + r")(?![a-z])", re.IGNORECASE
    )
    respelt, count = words.subn(
        lambda match: respellings.get(normalize(match.group()), match.group()), text
    )
    return respelt if count else None


def _question_vector(embedder: Embedder, query: str) -> np.ndarray | None:
    try:
        return query_vectors.get(embedder, query)
    except Exception:
        # An embeddings provider can be down; the question is still answered by its words.
        logger.warning("embedding the question failed; searching by words only", exc_info=True)
        return None


def _blended(typed: np.ndarray, respelt: np.ndarray | None) -> np.ndarray:
    """The mean direction of the question as typed and as respelt.

    A mistyped sentence is far from its passage ("how lnog dose shiping tkae": cosine 0.82 to
    the shipping FAQ, 0.91 typed right), so the corrections must count on the dense side too;
    but they are guesses ("morning" is taken for "more" where no passage says "morning"), and
    the respelling alone would put a wrong guess wholly into the vector, as it counts only 0.7
    on the lexical side. Measured on the 51 faq-dev queries with a correction: the mean
    answered one more correctly than the typed vector, the respelling alone one fewer.
    """
    if respelt is None:
        return typed
    mean = typed + respelt
    return mean / float(np.linalg.norm(mean))


def _top(scores: np.ndarray, pool: int) -> np.ndarray:
    if len(scores) <= pool:
        return np.argsort(-scores, kind="stable")
    top = np.argpartition(-scores, pool - 1)[:pool]
    return top[np.argsort(-scores[top], kind="stable")]


def _lexical_of(
    index: CollectionIndex, pid: int, scores: np.ndarray, delta: dict[int, float]
) -> float:
    """BM25 of a passage outside the lexical candidates (found by the dense side)."""
    slot = index.lexical.slot_of.get(pid)
    if slot is not None and slot < len(scores):
        return float(scores[slot])
    return delta.get(pid, 0.0)


def _cosine_of(
    index: CollectionIndex,
    pid: int,
    vector: np.ndarray | None,
    semantic: dict[int, tuple[float, int]],
) -> float | None:
    if pid in semantic:
        return semantic[pid][0]
    if vector is None or index.dense is None:
        return None
    stored = index.dense.vector(pid)
    return None if stored is None else float(stored @ vector)
