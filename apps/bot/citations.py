"""Citation markers in an answer: normalise them, check they exist, list the sources cited.

Models write ``[1]``, ``[1, 2]``, ``【1】`` or ``［1］``; the widget links ``[n]``. Markers are
normalised to ``[n]``; a number that no passage carries is removed from the final text, and the
sources left are numbered 1, 2… in the order the answer first cites them (an answer citing
only the prompt's third passage reads "[1]", not "[3]" above a list that starts at 3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from apps.chat.events import Citation

MARKER = re.compile(r"\[(\d{1,3})\]")
_LOOSE = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
_SPLIT = re.compile(r"\s*[,，、]\s*")


def normalise_markers(text: str) -> str:
    """``【1】``, ``［2］`` and ``[1, 3]`` as ``[1]``, ``[2]`` and ``[1][3]``."""
    return _LOOSE.sub(lambda m: "".join(f"[{n}]" for n in _SPLIT.split(m.group(1))), text)


def first_valid(text: str, available: Mapping[int, Citation]) -> int | None:
    """Where the first marker of an existing source ends in ``text`` (after normalising)."""
    for match in MARKER.finditer(text):
        if int(match.group(1)) in available:
            return match.end()
    return None


@dataclass(frozen=True)
class CheckedAnswer:
    # Markers renumbered: [1] is the first source cited, and citations[0] is it.
    text: str
    citations: list[Citation]
    # The prompt's numbers of the sources cited, in citation order: citations[k] is source
    # cited[k] of the passages given.
    cited: tuple[int, ...]
    # Numbers cited that no passage carries (removed from ``text``).
    invalid: tuple[int, ...]


def answer_check(text: str, available: Mapping[int, Citation]) -> CheckedAnswer:
    """Keep the markers that point at a passage given; list those sources in citation order."""
    invalid: list[int] = []

    def keep(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n in available:
            return match.group(0)
        invalid.append(n)
        return ""

    cleaned = MARKER.sub(keep, normalise_markers(text))
    if invalid:
        # A removed marker can leave "word ." or a double space behind.
        cleaned = re.sub(r"[ \t]+([.,;:!?。，；：！？])", r"\1", cleaned)
        cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    cleaned = cleaned.strip()
    cited = tuple(dict.fromkeys(int(m.group(1)) for m in MARKER.finditer(cleaned)))
    shown = {n: k for k, n in enumerate(cited, start=1)}
    return CheckedAnswer(
        text=MARKER.sub(lambda m: f"[{shown[int(m.group(1))]}]", cleaned),
        citations=[{**available[n], "n": shown[n]} for n in cited],
        cited=cited,
        invalid=tuple(dict.fromkeys(invalid)),
    )
