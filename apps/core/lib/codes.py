"""Product codes and model numbers, however they are typed: LM-2041, LM2041, lm 2041.

A code is a run of Latin letters then a run of digits. Touching or joined by a hyphen it is
unambiguous, and both the knowledge search and the offline answerer read it as one term of its
letters and digits (``lm2041``). Typed with a space it could as well be two words ("page 12",
"in 30"), so it counts as a code only where the text it is matched against has that code.
Patterns work on NFKC case-folded text (so ＬＭ－２０４１ is lm-2041 already).
"""

from __future__ import annotations

import re

# Letters, what joins them to the digits ("", "-" or " "), digits.
CODE = re.compile(r"(?<![a-z0-9])([a-z]+)(-?| )([0-9]+)(?![a-z0-9])")


def code_term(match: re.Match[str]) -> str:
    """The one term a ``CODE`` match stands for: its letters and digits, lm-2041 → lm2041."""
    return match[1] + match[3]


def is_spaced(match: re.Match[str]) -> bool:
    """Whether a ``CODE`` match was typed with a space, a code only where the other side has it."""
    return match[2] == " "
