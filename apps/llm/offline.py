"""The offline answerer: no model, it quotes the knowledge-base passages it is given.

It is what csbot runs when no model is configured, so the product is useful out of the box. It
never writes a sentence of its own beyond the plain opening that says these are quotes: it picks
the sentences of the request's documents (in the visitor's language) that share the most
distinctive words with the question and cites each as ``[n]``. With nothing worth quoting it
returns an empty answer, and the pipeline abstains or hands off.
"""

from __future__ import annotations

import asyncio
import difflib
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from apps.core.lib.codes import CODE, code_term, is_spaced
from apps.core.lib.terms import EN_STOPWORDS, LATIN_WORD, stem, terms
from apps.core.lib.typos import respelling_allowed, typo_candidate, typo_of
from apps.llm.dialects.base import BaseBackend
from apps.llm.tokens import estimate_input_tokens, estimate_tokens
from apps.llm.types import ChatRequest, Document, Finish, StreamEvent, TextDelta, Usage

INTRO = {"en": "From our help centre:", "zh": "根据帮助中心："}
QUOTES = {"en": ("\u201c", "\u201d"), "zh": ("\u300c", "\u300d")}
# Between two sentences of one passage that are not next to each other in it: the cut is shown,
# so a quote never reads as one statement the passage does not make ("ship the same day.
# Hong Kong … take 3–5 days" would say everything arrives that fast).
ELLIPSIS = {"en": " \u2026 ", "zh": "\u2026\u2026"}
# Streamed a few characters at a time, like a model, so the widget path is the same.
CHUNK_CHARS = 12
MAX_SENTENCES = 3
MAX_PER_DOCUMENT = 2
MAX_QUOTE_CHARS = 300
# A sentence must score at least this share of the best one to be quoted alongside it.
RELATIVE_FLOOR = 0.5
# What a further sentence of one passage adds to a term's frequency (a passage counts 1). On
# faq-dev (80 % import, hybrid) 0 · 0.1 · 0.25 · 0.5 · 1 (each sentence counting whole, as
# before) gave covered correct 0.869 · 0.869 · 0.867 · 0.868 · 0.867; 0 leaves every term of a
# single passage the same weight.
REPEAT_SHARE = 0.1
# A sentence this similar to one already quoted (difflib's ratio of their letters and digits)
# says it again: an FAQ answer and its article often share a sentence, word for word or nearly.
NEAR_DUPLICATE = 0.8
# Two sentences with fewer content words than this are never the same content in other words:
# "Yes." and "Yes, by courier." share everything the shorter says.
MIN_CONTENT_TERMS = 4
# A negation reverses what a sentence says, and "not" is a stop word, missing from its terms.
# Chinese: the words, not every 无 or 非 (无关 "whatever", 非常 "very"). "n't" also with the
# typographic apostrophes a word processor types (don’t, donʼt): an imported .docx has them.
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|none|without)\b|n['\u2019\u02bc]t|[不没未勿]|无需|无须|无法"
)
_DIGIT = re.compile(r"\d")

_SENTENCE_END = re.compile(r"(?<=[。！？；])|(?<=[.!?;])\s+|\n+")
# A Markdown table's delimiter row, under its header row: | --- | :---: |
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
# A table row is quoted as a sentence of its cells after their column headers:
# "Code: LM-2041; Product: Aurora desk lamp; Price: ¥299."
_ROW_FORMAT = {"en": ("{}: {}", "; ", "."), "zh": ("{}：{}", "；", "。")}
_NOT_TEXT = re.compile(r"[\W_]+")
_HAN_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z]{3,}")


def language_family(code: str) -> str:
    return "zh" if code.lower().startswith("zh") else "en"


def families_quotable(question: str, language: str) -> set[str]:
    """The language families of the passages worth quoting: the visitor's, and the other one
    when the question is partly written in it ("我想退货，but I lost the receipt").

    Partly written in Chinese: two Han characters. In English: two words of three letters or
    more that are not function words or codes, so "Wi-Fi 连不上" or "LM-2041 多少钱" stay Chinese.
    """
    families = {language_family(language)}
    folded = CODE.sub(" ", unicodedata.normalize("NFKC", question).casefold())
    if len(_HAN_CHAR.findall(folded)) >= 2:
        families.add("zh")
    words = [w for w in _ENGLISH_WORD.findall(folded) if w not in EN_STOPWORDS]
    if len(words) >= 2:
        families.add("en")
    return families


@dataclass(frozen=True, slots=True)
class _Candidate:
    document: Document
    position: int
    text: str
    score: float


def extract_answer(
    question: str, documents: Sequence[Document], language: str, *, focus: str = ""
) -> str:
    """Return the quoted answer, or "" when no document the visitor can read matches the question.

    The visitor reads ``language``, and the other language too when the question is partly
    written in it (``families_quotable``).

    ``focus``, the words a follow-up joined to ``question`` added, chooses among the sentences
    when some have them: "how much does it cost?" after a warranty question quotes the price,
    not the warranty again.
    """
    family = language_family(language)
    families = families_quotable(question, language)
    usable = [d for d in documents if language_family(d.language) in families]
    wanted = set(terms(question))
    if not usable or not wanted:
        return ""
    sentences = [
        (document, position, sentence)
        for document in usable
        for position, sentence in enumerate(_sentences(document))
    ]
    sentence_terms = [
        # A section answers its heading from its first sentence, which need not repeat the
        # heading's words: "How do I make a claim?" is answered by "Contact us … with a photo".
        set(terms(sentence)) | (set(terms(document.heading)) if position == 0 else set())
        for document, position, sentence in sentences
    ]
    known = Counter(term for found in sentence_terms for term in found)
    typed = _typed_words(question)
    wanted = {_respelt(term, known, typed) for term in wanted}
    for match in CODE.finditer(unicodedata.normalize("NFKC", question).casefold()):
        # "LM 2041" is the code where a sentence has it, else two words ("in 30").
        if is_spaced(match) and code_term(match) in known:
            wanted = (wanted - {*terms(match[1]), *terms(match[3])}) | {code_term(match)}
    # Rarer terms say more about which sentence answers (a smoothed inverse document frequency).
    frequency, total = _frequencies(sentences, sentence_terms, known)
    weight = {term: math.log(1 + total / frequency[term]) for term in wanted if known[term]}
    scored = list(zip(sentences, sentence_terms, strict=True))
    focus_terms = {_respelt(term, known, typed) for term in terms(focus)}
    if any(found & focus_terms for found in sentence_terms):
        scored = [(sentence, found) for sentence, found in scored if found & focus_terms]
    candidates = [
        _Candidate(document, position, sentence, sum(weight[t] for t in found & wanted))
        for (document, position, sentence), found in scored
    ]
    chosen, echoes = _choose([c for c in candidates if c.score > 0])
    if not chosen:
        return ""
    return _format(chosen, echoes, family)


def _frequencies(
    sentences: Sequence[tuple[Document, int, str]],
    sentence_terms: Sequence[set[str]],
    known: Counter[str],
) -> tuple[dict[str, float], float]:
    """How common each term of the sentences is, and the count of everything, for its idf.

    Counted by passage: a word repeated through one passage is its subject, not a common word
    ("retrun a lamp" quoted one sentence of the returns FAQ, whose four sentences say
    "return", after the lamp's in the catalogue and in the warranty, one each). Each further
    sentence of a passage having it counts ``REPEAT_SHARE``, so that within one passage a
    rarer term still weighs more (a table's row with the code asked for, not every row with a
    price). ``known``: the number of sentences having each term.
    """
    passage_terms: dict[int, set[str]] = {}
    for (document, _, _), found in zip(sentences, sentence_terms, strict=True):
        passage_terms.setdefault(document.n, set()).update(found)
    in_passages = Counter(term for found in passage_terms.values() for term in found)
    frequency = {
        term: in_passages[term] + REPEAT_SHARE * (count - in_passages[term])
        for term, count in known.items()
    }
    total = len(passage_terms) + REPEAT_SHARE * (len(sentences) - len(passage_terms))
    return frequency, total


def _typed_words(text: str) -> dict[str, str]:
    """The Latin words of ``text`` by their terms (``stem``): what the visitor typed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return {stem(word): word for word in LATIN_WORD.findall(folded)}


def _respelt(term: str, known: Counter[str], typed: dict[str, str]) -> str:
    """A question word no sentence has, read as the one (the commonest) it is a slip for:
    search found "retrun a lamp" the returns FAQ, whose sentences say "return". A real word
    only as another form of it (``respelling_allowed``): "catch" is no slip for "match"."""
    if term in known or not typo_candidate(term):
        return term
    word_typed = typed.get(term, term)
    near = [
        word for word in known if typo_of(term, word) and respelling_allowed(word_typed, term, word)
    ]
    return max(near, key=lambda word: (known[word], word)) if near else term


def _sentences(document: Document) -> list[str]:
    """What can be quoted of a passage: its sentences, and each table row with its headers.

    A table's header row alone answers nothing and its delimiter row is not text, so neither
    is quoted; every body row is, read as "Header: cell" pairs (the widget shows no tables).
    """
    units: list[str] = []
    prose: list[str] = []
    lines = document.text.split("\n")
    i = 0
    while i < len(lines):
        if "|" in lines[i] and i + 1 < len(lines) and _is_table_delimiter(lines[i + 1]):
            units += _prose_sentences(prose)
            prose = []
            header = _cells(lines[i])
            i += 2
            while i < len(lines) and "|" in lines[i]:
                units += _row_text(header, _cells(lines[i]), language_family(document.language))
                i += 1
        else:
            prose.append(lines[i])
            i += 1
    return units + _prose_sentences(prose)


def _prose_sentences(lines: list[str]) -> list[str]:
    split = (s.strip() for s in _SENTENCE_END.split("\n".join(lines)))
    return [sentence for sentence in split if len(sentence) >= 4]


def _is_table_delimiter(line: str) -> bool:
    return "|" in line and bool(_TABLE_DELIMITER.match(line))


def _cells(row: str) -> list[str]:
    row = row.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SEPARATOR.split(row)]


def _row_text(header: list[str], cells: list[str], family: str) -> list[str]:
    """The row as one quotable line, or nothing for a row of empty cells."""
    pair, separator, end = _ROW_FORMAT[family]
    named = itertools.zip_longest(header[: len(cells)], cells, fillvalue="")
    parts = [pair.format(name, cell) if name else cell for name, cell in named if cell]
    return [separator.join(parts) + end] if parts else []


def _choose(candidates: list[_Candidate]) -> tuple[list[_Candidate], dict[int, list[int]]]:
    """The sentences to quote, and for each quoted passage the others that say the same.

    A sentence nearly the same as one already chosen is not quoted again; its passage is
    cited beside the one quoted instead (both say it).
    """
    echoes: dict[int, list[int]] = {}
    if not candidates:
        return [], echoes
    # Ties go to the passage the pipeline ranked first, then to the earlier sentence.
    ranked = sorted(candidates, key=lambda c: (-c.score, c.document.n, c.position))
    floor = ranked[0].score * RELATIVE_FLOOR
    chosen: list[_Candidate] = []
    per_document: Counter[int] = Counter()
    for candidate in ranked:
        if candidate.score < floor or len(chosen) == MAX_SENTENCES:
            break
        same = next((c for c in chosen if _nearly_same(candidate.text, c.text)), None)
        if same is not None:
            cited = echoes.setdefault(same.document.n, [])
            if candidate.document.n not in (same.document.n, *cited):
                cited.append(candidate.document.n)
            continue
        if per_document[candidate.document.n] < MAX_PER_DOCUMENT:
            per_document[candidate.document.n] += 1
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: (c.document.n, c.position)), echoes


def _nearly_same(a: str, b: str) -> bool:
    """Whether two sentences say the same: negated alike, and nearly the same letters (an FAQ
    answer and its article sharing a sentence) or the same content in other words (below)."""
    if bool(_NEGATION.search(a.casefold())) != bool(_NEGATION.search(b.casefold())):
        return False  # "Returns need a receipt." is not "Returns do not need a receipt."
    letters_a, letters_b = (_NOT_TEXT.sub("", text.casefold()) for text in (a, b))
    ratio = difflib.SequenceMatcher(None, letters_a, letters_b, autojunk=False).ratio()
    return ratio >= NEAR_DUPLICATE or _same_content(a, b)


def _same_content(a: str, b: str) -> bool:
    """The same figures, and every content word of the shorter in the longer: "Shipping to
    Hong Kong or Macao costs ¥30 per order, whatever its value." and "Shipping to Hong Kong or
    Macao is ¥30 per order." differ in too many letters for the ratio, and were both quoted.

    Every word, not nearly all: "Furniture can be returned within 30 days." shares all but its
    subject with "Unopened electronics can be returned within 30 days.", and says it of
    something else."""
    shorter, longer = sorted((set(terms(a)), set(terms(b))), key=len)
    if len(shorter) < MIN_CONTENT_TERMS:
        return False
    figures_shorter, figures_longer = (
        {t for t in found if _DIGIT.search(t)} for found in (shorter, longer)
    )
    return figures_shorter == figures_longer and shorter <= longer


def _format(chosen: list[_Candidate], echoes: dict[int, list[int]], family: str) -> str:
    opening, closing = QUOTES[family]
    space = " " if family == "en" else ""
    lines = [INTRO[family]]
    for document in dict.fromkeys(c.document for c in chosen):
        quoted = _join([c for c in chosen if c.document is document], document.language)
        cited = "".join(f"[{n}]" for n in (document.n, *echoes.get(document.n, ())))
        lines.append(f"{opening}{quoted}{closing}{space}{cited}")
    return "\n".join(lines)


def _join(sentences: list[_Candidate], language: str) -> str:
    """One passage's chosen sentences, in order, as one quote: neighbours as the passage writes
    them (Chinese without a space), others with an ellipsis where sentences were left out."""
    family = language_family(language)
    joint = " " if family == "en" else ""
    quoted = _clip(sentences[0].text)
    for before, sentence in itertools.pairwise(sentences):
        adjacent = sentence.position == before.position + 1
        quoted += (joint if adjacent else ELLIPSIS[family]) + _clip(sentence.text)
    return quoted


def _clip(sentence: str) -> str:
    if len(sentence) <= MAX_QUOTE_CHARS:
        return sentence
    return sentence[: MAX_QUOTE_CHARS - 1].rstrip() + "\u2026"


class OfflineBackend(BaseBackend):
    """Answer from ``request.documents`` alone; same interface as the network backends."""

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        answer = extract_answer(
            request.question_text(), request.documents, request.language, focus=request.focus
        )
        for start in range(0, len(answer), CHUNK_CHARS):
            yield TextDelta(answer[start : start + CHUNK_CHARS])
            # Let other conversations' streams run between chunks, as network reads would.
            await asyncio.sleep(0)
        yield Usage(estimate_input_tokens(request), estimate_tokens(answer), estimated=True)
        yield Finish("stop")
