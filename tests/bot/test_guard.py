"""The sensitive-term matcher and the streaming cut-off."""

from __future__ import annotations

import pytest

from apps.bot.guard import MASK_CHAR, Matcher, StreamGuard, Term, mask

BLOCK = Term("违禁品", "illegal", "block", 1)
HANDOFF = Term("lawsuit", "other", "handoff", 2)
MASKED = Term("idiot", "abuse", "mask", 3)
PHRASE = Term("free money", "illegal", "block", 4)


@pytest.fixture
def matcher() -> Matcher:
    return Matcher([BLOCK, HANDOFF, MASKED, PHRASE])


def test_finds_every_term_with_its_position(matcher):
    text = "I will file a lawsuit about 违禁品"
    hits = matcher.find(text)
    assert [(h.term.text, text[h.start : h.end]) for h in hits] == [
        ("lawsuit", "lawsuit"),
        ("违禁品", "违禁品"),
    ]


def test_width_case_and_spacing_tricks_do_not_hide_a_chinese_term(matcher):
    for text in ("违 禁 品", "违.禁.品", "违-禁*品"):
        assert [h.term for h in matcher.find(f"买{text}吗")] == [BLOCK], text
    assert [h.term for h in matcher.find("ＬＡＷＳＵＩＴ now")] == [HANDOFF]


def test_latin_terms_match_whole_words_only(matcher):
    assert matcher.find("idiotic lawsuits") == []
    assert [h.term for h in matcher.find("you idiot!")] == [MASKED]
    assert [h.term for h in matcher.find("get FREE   money")] == [PHRASE]
    assert matcher.find("freemoney") == []


def test_mask_replaces_the_term_but_keeps_spaces():
    text = "free money now"
    hits = Matcher([PHRASE]).find(text)
    assert mask(text, hits) == f"{MASK_CHAR * 4} {MASK_CHAR * 5} now"


def test_an_empty_list_matches_nothing_and_holds_nothing_back():
    guard = StreamGuard(Matcher([]))
    assert guard.feed("anything at all").text == "anything at all"


def _stream(guard: StreamGuard, pieces: list[str]) -> tuple[list[str], object]:
    shown = []
    for piece in pieces:
        verdict = guard.feed(piece)
        shown.append(verdict.text)
        if verdict.stop:
            return shown, verdict.stop
    verdict = guard.finish()
    shown.append(verdict.text)
    return shown, verdict.stop


def test_a_term_split_across_deltas_is_stopped_before_any_of_it_is_released(matcher):
    pieces = ["Parcels ship fast. You can buy ", "违", "禁", "品 here", " too"]
    shown, stop = _stream(StreamGuard(matcher), pieces)
    assert stop is not None
    assert stop.term == BLOCK
    released = "".join(shown)
    assert "违" not in released
    assert released.startswith("Parcels ship fast.")


def test_every_split_of_the_text_releases_the_same_safe_prefix(matcher):
    text = "We reply within a day. Do not call me an idiot or I file a lawsuit today."
    for size in range(1, 12):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        guard = StreamGuard(matcher)
        shown, stop = _stream(guard, pieces)
        released = "".join(shown)
        assert stop is not None, size
        assert stop.term == HANDOFF
        assert "lawsuit" not in released
        assert "idiot" not in released
        assert released == text[: stop.start].replace("idiot", MASK_CHAR * 5)


def test_a_latin_term_at_the_end_waits_for_the_next_word(matcher):
    guard = StreamGuard(matcher)
    assert "idiot" not in guard.feed("such an idiot").text
    # "idiotic" is not the term: it is released as written.
    guard.feed("ic move")
    assert guard.finish().stop is None
    assert guard.released_text == "such an idiotic move"


def test_clean_text_streams_through_whole_once_finished(matcher):
    guard = StreamGuard(matcher)
    shown, stop = _stream(guard, ["Refunds reach ", "Alipay within ", "3 days."])
    assert stop is None
    assert "".join(shown) == "Refunds reach Alipay within 3 days."


def test_text_that_cannot_begin_a_term_is_released_at_once(matcher):
    guard = StreamGuard(matcher)

    # Nothing here begins a term ("free money" is ten characters long, but "Refunds" is not
    # its beginning): every delta shows at once instead of trailing the longest term's length.
    assert guard.feed("Refunds").text == "Refunds"
    assert guard.feed(" reach you").text == " reach you"
    # Only the tail that may still become a term waits: "fre" may be "free money".
    assert guard.feed(" in three days, fre").text == " in three days, "
    assert guard.feed("e of charge").text == "free of charge"
    assert guard.feed(" 违").text == " "
    assert guard.feed("约金").text == "违约金"


def test_mask_terms_are_released_masked(matcher):
    shown, stop = _stream(StreamGuard(matcher), ["what an id", "iot, really"])
    assert stop is None
    assert "".join(shown) == f"what an {MASK_CHAR * 5}, really"
