"""The two languages csbot speaks, from whatever tag a browser, a file or a setting uses.

Django-free, so the knowledge importers (plain parsers) share it with ``sites.Language``.
"""

from __future__ import annotations

CHINESE = "zh-hans"
ENGLISH = "en"


def language_code(tag: str | None) -> str:
    """Our code for a language tag (zh, zh-CN, zh_Hans, en, en-US…); "" for any other."""
    tag = (tag or "").strip().lower()
    if tag.startswith("zh"):
        return CHINESE
    if tag.startswith("en"):
        return ENGLISH
    return ""
