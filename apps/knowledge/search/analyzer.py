"""Turn Chinese, English and mixed text into search tokens, shaped by the admin's tuning.

The same analyzer cuts passages at index time and questions at search time, so a tuning change
(dictionary word, synonym, protected pattern) re-analyzes the passages it touches
(``services.tuning_apply``).

Pipeline: NFKC + case folding; protected tokens (SKUs, order numbers) are cut out first and kept
whole; codes (letters then digits, ``apps.core.lib.codes``) become one term and their parts; Han
runs go to jieba (with the admin dictionary), other runs are split into words and
English words are Snowball-stemmed; synonym groups collapse to one token. Stop words stay:
measured on faq-dev, dropping them costs FAQ matching more than it gains on long articles.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

import jieba
import Stemmer

from apps.core.lib.codes import CODE, code_term, is_spaced
from apps.knowledge.search.lexical import deletes_index

# Bump it whenever the terms the analyzer gives some text change (not the admin's tuning, which
# re-analyses what it touches): the next ``migrate`` re-analyses every stored passage
# (``passages_reanalyze_if_outdated``). 1: codes as one term (LM-2041, lm2041 → lm2041);
# 2: an admin's Chinese compound followed by its parts; 3: those parts through the synonyms
# (灯泡 of 智能灯泡 is ≡灯泡 where 灯泡 = bulb).
ANALYZER_VERSION = 3

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of Han characters, a decimal number, or a word of letters/digits (apostrophes inside
# English words).
_RUN = re.compile(rf"[{_HAN}]+|\d+(?:\.\d+)+|[^\W_{_HAN}]+(?:['’][^\W\d_{_HAN}]+)*")
_HAN_RUN = re.compile(rf"[{_HAN}]")
_HAN_ONLY = re.compile(rf"[{_HAN}]+")
_LATIN_WORD = re.compile(r"[a-z]+")
_NON_ALNUM = re.compile(r"[\W_]+")

# English function and question words, and Chinese particles and modal verbs. They stay in the
# index (dropping them cost FAQ matching on faq-dev), but weigh half in a question: in a small
# collection idf alone cannot tell that "how" says less than "refund", or that 要 and 吗 say
# less than 发货 ("发货要多久？" found "退款要多久到账？" by 要 and 多久). On faq-dev these
# Chinese ones move zh Recall@1 +0.001 lexical, -0.002 hybrid (docs/knowledge.md); adding
# pronouns, prepositions and question words (怎么, 什么) cost lexical 0.003.
FUNCTION_WORDS = frozenset(
    """
    a am an and are as at be been being but by can could did do does doing for from had has have
    having he her hers him his how i if in into is it its itself just me may might must my myself
    of on or our ours please she should so than that the their theirs them then there these they
    this those to too us very was we were what when where which who whom why will would you your
    yours
    的 了 吗 呢 吧 啊 呀 嘛 么 要 想 可以 能 会
    """.split()  # noqa: SIM905 - a word list reads best as text
)


@dataclass(frozen=True)
class Tuning:
    """The admin-managed vocabulary, as one immutable value."""

    version: int = 0
    words: tuple[tuple[str, int | None], ...] = ()
    synonyms: tuple[tuple[str, ...], ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Token:
    """One index term and the text it came from (shown as the matched term)."""

    term: str
    surface: str
    # For the parts of a protected token, a code (lm, 2041 of LM-2041) or an admin's Chinese
    # compound (灯泡 of 智能灯泡): the whole one's term.
    part_of: str | None = None
    # A code typed with a space in a question (lm 2041): it is that code only if the knowledge
    # base has it, else two words ("in 30").
    only_if_known: bool = False


@dataclass
class _Segmenter:
    """A jieba tokenizer carrying the admin words; shared because loading jieba takes ~1 s."""

    tokenizer: jieba.Tokenizer = field(default_factory=jieba.Tokenizer)
    words: dict[str, int | None] = field(default_factory=dict)
    # jieba's own frequency of each admin word before it was added (0: not in its dictionary),
    # restored when the admin removes the word.
    original: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, words: dict[str, int | None]) -> None:
        with self.lock:
            self.tokenizer.check_initialized()
            for word in self.words.keys() - words.keys():
                self.tokenizer.add_word(word, self.original.pop(word))
            for word, freq in words.items():
                if word not in self.words:
                    self.original[word] = self.tokenizer.FREQ.get(word, 0)
                if word not in self.words or self.words[word] != freq:
                    self.tokenizer.add_word(word, freq)
            self.words = dict(words)

    def cut(self, text: str) -> list[str]:
        words: list[str] = self.tokenizer.lcut(text, HMM=True)
        return words


_segmenter: _Segmenter | None = None
_segmenter_lock = threading.Lock()


def _shared_segmenter() -> _Segmenter:
    global _segmenter
    with _segmenter_lock:
        if _segmenter is None:
            jieba.setLogLevel(30)
            _segmenter = _Segmenter()
        return _segmenter


def normalize(text: str) -> str:
    """Fold width and case, so that ＬＭ－２０４１ and lm-2041 are the same text."""
    return unicodedata.normalize("NFKC", text).casefold()


def protected_term(match: str) -> str:
    """The single term a protected match becomes: its letters and digits, e.g. lm-2041 → lm2041.

    Typed without its punctuation (``LM2041``) the code is one plain word with the same term.
    """
    return _NON_ALNUM.sub("", match)


class Analyzer:
    """Cut text into terms under one ``Tuning``. Build through ``analyzer_for``."""

    def __init__(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._stem = Stemmer.Stemmer("english").stemWord
        self._stem_lock = threading.Lock()
        words: dict[str, int | None] = {normalize(w): f for w, f in tuning.words}
        # Chinese synonym terms must survive segmentation whole to be recognised.
        for group in tuning.synonyms:
            for term in group:
                norm = normalize(term)
                if _HAN_RUN.search(norm) and " " not in norm:
                    words.setdefault(norm, None)
        self._segmenter = _shared_segmenter()
        self._segmenter.apply(words)
        self._protected = (
            re.compile("|".join(f"(?:{p})" for p in tuning.patterns), re.IGNORECASE)
            if tuning.patterns
            else None
        )

    @cached_property
    def _synonyms(self) -> tuple[dict[tuple[str, ...], str], int]:
        """Map each synonym term's term sequence to its class's one term; also the longest one.

        Groups sharing a term are one class: ``退款 = refund`` beside ``refund = money back``
        makes "money back" find 退款.
        """
        groups = []
        for group in self.tuning.synonyms:
            sequences = [tuple(t.term for t in self._plain_tokens(term)) for term in group]
            sequences = [s for s in sequences if s]
            if len(set(sequences)) >= 2:
                groups.append(sequences)
        table = {
            sequence: "≡" + "_".join(first) for sequence, first in synonym_classes(groups).items()
        }
        longest = max((len(s) for s in table), default=0)
        return table, longest

    @cached_property
    def word_synonyms(self) -> dict[str, str]:
        """Each one-word English synonym's term (``ship``) and its class's term (``≡发货``).

        The index holds only the class's term, so a typo of the member is corrected to it.
        """
        table, _ = self._synonyms
        return {
            sequence[0]: canonical
            for sequence, canonical in table.items()
            if len(sequence) == 1 and _LATIN_WORD.fullmatch(sequence[0])
        }

    @cached_property
    def word_synonym_deletes(self) -> dict[str, list[str]]:
        """The deletes index of ``word_synonyms``: a typo is looked up, not compared with
        every synonym of a long list."""
        return deletes_index(self.word_synonyms)

    def word_term(self, word: str) -> str:
        """The term of one lower-case English word, its synonym class applied."""
        stem = self._stem_word(word)
        return self.word_synonyms.get(stem, stem)

    def terms(self, text: str) -> list[str]:
        return [token.term for token in self.tokens(text)]

    def tokens(self, text: str, *, question: bool = False) -> list[Token]:
        """Analyze ``text`` into index terms, keeping the surface text of each.

        A ``question`` also offers its spaced codes (``Token.only_if_known``).
        """
        tokens = self._plain_tokens(text, question=question)
        table, longest = self._synonyms
        if table:
            tokens = _collapse_synonyms(tokens, table, longest)
        return _with_parts(tokens, self._compound_parts) if self._compound_parts else tokens

    @cached_property
    def _compound_parts(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """The admin's Chinese words of three characters or more, each with the dictionary
        words inside it (``智能灯泡``: 智能, 灯泡), as jieba's search mode cuts them: each part's
        term (a one-term synonym's class: ``≡灯泡`` where 灯泡 = bulb) and its text.

        An admin word keeps a compound whole, so "智能灯泡" is one term; without its parts a
        visitor asking about "灯泡" would never find a passage that says "智能灯泡", nor one
        asking about "bulb" if the part skipped the synonyms the question's word goes through.
        """
        table, _ = self._synonyms
        frequencies = self._segmenter.tokenizer.FREQ
        parts: dict[str, tuple[str, ...]] = {}
        for word in self._segmenter.words:
            if len(word) < 3 or not _HAN_ONLY.fullmatch(word):
                continue
            inside = (
                word[i : i + n] for n in (2, 3) if n < len(word) for i in range(len(word) - n + 1)
            )
            found = tuple(dict.fromkeys(p for p in inside if frequencies.get(p, 0) > 0))
            if found:
                parts[word] = tuple((table.get((part,), part), part) for part in found)
        return parts

    def _plain_tokens(self, text: str, *, question: bool = False) -> list[Token]:
        text = normalize(text)
        if self._protected is None:
            return self._coded_words(text, question=question)
        out: list[Token] = []
        start = 0
        for match in self._protected.finditer(text):
            if match.end() == match.start():
                continue
            out.extend(self._coded_words(text[start : match.start()], question=question))
            surface = match.group()
            whole = protected_term(surface)
            out.append(Token(whole, surface))
            # The parts keep a code findable when it is typed another way (LM 2041).
            out.extend(Token(t.term, t.surface, whole) for t in self._words(surface))
            start = match.end()
        out.extend(self._coded_words(text[start:], question=question))
        return out

    def _coded_words(self, text: str, *, question: bool) -> list[Token]:
        """``_words``, with each code as its term (lm2041) followed by its parts (lm, 2041)."""
        out: list[Token] = []
        start = 0
        for match in CODE.finditer(text):
            if is_spaced(match) and not question:
                continue
            out.extend(self._words(text[start : match.start()]))
            whole = code_term(match)
            out.append(Token(whole, match.group(), only_if_known=is_spaced(match)))
            # The parts find the code where it is written another way, as a protected token's do.
            for part in (match[1], match[3]):
                out.extend(Token(t.term, t.surface, whole) for t in self._words(part))
            start = match.end()
        out.extend(self._words(text[start:]))
        return out

    def _words(self, text: str) -> list[Token]:
        out: list[Token] = []
        for run in _RUN.findall(text):
            if _HAN_RUN.match(run):
                out.extend(Token(w, w) for w in self._segmenter.cut(run))
            else:
                out.append(Token(self._stem_word(run), run))
        return out

    def _stem_word(self, word: str) -> str:
        if not _LATIN_WORD.fullmatch(word):
            return word
        with self._stem_lock:  # PyStemmer objects are not thread-safe
            stem: str = self._stem(word)
        return stem


Term = TypeVar("Term")


def synonym_classes(groups: Iterable[Sequence[Term]]) -> dict[Term, Term]:
    """Map every term of ``groups`` to the first term of its class, where groups sharing a term
    (directly or through other groups) are one class; "first" is in the groups' order."""
    parent: dict[Term, Term] = {}
    order: dict[Term, int] = {}

    def root(term: Term) -> Term:
        while parent[term] != term:
            parent[term] = parent[parent[term]]
            term = parent[term]
        return term

    for group in groups:
        for term in group:
            if term not in parent:
                parent[term] = term
                order[term] = len(order)
        for term in group[1:]:
            a, b = root(group[0]), root(term)
            if a != b:
                earlier, later = (a, b) if order[a] < order[b] else (b, a)
                parent[later] = earlier
    return {term: root(term) for term in parent}


def _with_parts(
    tokens: Sequence[Token], compound_parts: dict[str, tuple[tuple[str, str], ...]]
) -> list[Token]:
    """Each compound's token followed by its parts' (after synonyms, so a part never joins a
    multi-word one; a part that is a one-term synonym is already its class's term).

    A question's parts count only when its compound is not in the knowledge base
    (``Token.part_of``), as a code's do.
    """
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        parts = compound_parts.get(token.surface, ())
        out.extend(Token(term, part, token.term) for term, part in parts)
    return out


def _collapse_synonyms(
    tokens: Sequence[Token], table: dict[tuple[str, ...], str], longest: int
) -> list[Token]:
    out: list[Token] = []
    i = 0
    terms = [t.term for t in tokens]
    while i < len(tokens):
        for size in range(min(longest, len(tokens) - i), 0, -1):
            canonical = table.get(tuple(terms[i : i + size]))
            if canonical is not None:
                surface = " ".join(t.surface for t in tokens[i : i + size])
                out.append(Token(canonical, surface))
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


_analyzers: dict[Tuning, Analyzer] = {}
_analyzers_lock = threading.Lock()


def analyzer_for(tuning: Tuning) -> Analyzer:
    """Return the process's analyzer for ``tuning``, building it on first use."""
    with _analyzers_lock:
        analyzer = _analyzers.get(tuning)
        if analyzer is None:
            _analyzers.clear()
            analyzer = _analyzers[tuning] = Analyzer(tuning)
        return analyzer


def terms_join(terms: Iterable[str]) -> str:
    return " ".join(terms)
