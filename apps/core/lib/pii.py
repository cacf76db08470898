"""Mask personal data in free text: phone numbers, email addresses, PRC resident ID numbers."""

from __future__ import annotations

import re

# Order matters: an 18-character ID number would otherwise be half-eaten by the phone pattern.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    # Resident identity card: 6-digit area, birth date, 3 digits, check digit or X.
    (
        re.compile(
            r"(?<!\d)\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
        ),
        "[id]",
    ),
    # Mainland mobile numbers, optionally +86 and grouped: 138 0013 8000, +86-138-0013-8000.
    (re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)"), "[phone]"),
    # Other international numbers written with a leading +: +1 415 555 0100, +44 20 7946 0958.
    (re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s-]?\d{2,4}){2,4}(?!\d)"), "[phone]"),
)


def pii_mask(text: str) -> str:
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text
