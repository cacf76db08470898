"""The Big List of Naughty Strings (tests/data/README.md), and a check that HTML shows it inert."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

BLNS_PATH = Path(__file__).resolve().parent.parent / "data" / "blns.json"
# Markup a payload would need to run script: an element that loads or runs code, an event
# handler attribute, or a javascript: URL.
_ACTIVE_TAGS = {"script", "iframe", "object", "embed", "frame", "frameset", "base", "svg", "math"}
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "background"}
_TAG_START = re.compile(r"<[A-Za-z!/?]")
_SCRIPTISH = re.compile(r"<[A-Za-z!/?]|script|alert|prompt|\bon\w+\s*=|expression\(", re.I)


@cache
def naughty_strings() -> tuple[str, ...]:
    strings = json.loads(BLNS_PATH.read_text(encoding="utf-8"))
    assert len(strings) == 515
    return tuple(strings)


def markup_bearing() -> list[str]:
    """The strings that contain something an HTML parser would take for a tag."""
    return [s for s in naughty_strings() if _TAG_START.search(s)]


def script_bearing() -> list[str]:
    """The strings that try to run script (markup, script URLs, handler or alert calls)."""
    return [s for s in naughty_strings() if _SCRIPTISH.search(s)]


class _ActiveMarkup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_TAGS:
            self.found.append(f"<{tag} {dict(attrs)}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            elif name in _URL_ATTRS and value and _is_script_url(value):
                self.found.append(f"<{tag} {name}={value[:40]!r}>")

    handle_startendtag = handle_starttag


def _is_script_url(value: str) -> bool:
    squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
    return squeezed.startswith(("javascript:", "vbscript:", "data:text/html"))


def active_markup(html: str) -> list[str]:
    """Every script-capable element, handler attribute and script URL in ``html``."""
    parser = _ActiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_inert(html: str, *, baseline: str) -> None:
    """``html`` holds no active markup beyond what the same page holds with harmless data."""
    extra = sorted((Counter(active_markup(html)) - Counter(active_markup(baseline))).elements())
    assert not extra, f"payload markup was rendered live: {extra[:5]}"
