"""A handoff's detail: one list of codes, worded the same in the stored text and the console."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.handoff.details import ENGLISH, HandoffDetail, detail_fields

CONSOLE = Path(__file__).resolve().parents[2] / "static" / "console" / "console.js"
DETAIL_ENTRY = re.compile(r'^\s+(\w+): gettext\("((?:[^"\\]|\\.)*)"\),$', re.MULTILINE)


def console_details() -> dict[str, str]:
    script = CONSOLE.read_text(encoding="utf-8")
    block = script[script.index("var DETAILS = {") : script.index("};", script.index("DETAILS"))]
    return dict(DETAIL_ENTRY.findall(block))


def test_the_console_words_every_code_as_the_stored_english_does():
    as_gettext = {code: re.sub(r"\{(\w+)\}", r"%(\1)s", text) for code, text in ENGLISH.items()}
    assert console_details() == as_gettext


def test_a_detail_is_stored_as_its_english_text_code_and_values():
    detail = HandoffDetail("keyword", {"phrase": "转人工"})
    assert detail_fields(detail) == {
        "detail": "keyword: 转人工",
        "detail_code": "keyword",
        "detail_values": {"phrase": "转人工"},
    }
    assert detail_fields(None) == {"detail": "", "detail_code": "", "detail_values": {}}
    assert len(detail_fields(HandoffDetail("keyword", {"phrase": "x" * 600}))["detail"]) == 500


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError, match="unknown handoff detail 'typo'"):
        HandoffDetail("typo")
