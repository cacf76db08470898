"""Split a Markdown article into passages along its headings, each under a length cap.

A passage never straddles two sections; a section longer than the cap is packed paragraph by
paragraph, and a paragraph longer than the cap is cut at sentence ends (then hard, as a last
resort). Each passage keeps the path of headings above it, which the bot shows as the source's
location ("Returns › Refund times").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 1500

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.:])\s+")


@dataclass(frozen=True)
class Chunk:
    heading_path: tuple[str, ...]
    text: str


def markdown_chunks(body: str, *, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Cut ``body`` into passages of at most ``max_chars`` characters with their heading path."""
    chunks: list[Chunk] = []
    for path, text in _sections(body):
        chunks.extend(Chunk(path, piece) for piece in _pack(text, max_chars))
    return chunks


def _sections(body: str) -> list[tuple[tuple[str, ...], str]]:
    sections: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fence: str | None = None

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append((tuple(title for _, title in stack), text))
        lines.clear()

    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)[0] * 3
            fence = None if fence == marker else (fence or marker)
        heading = _HEADING.match(line) if fence is None else None
        if heading:
            flush()
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip()))
        else:
            lines.append(line)
    flush()
    return sections


def _pack(text: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    for block in _BLANK_LINES.split(text):
        block = block.strip()
        if block:
            pieces.extend(_split_long(block, max_chars))
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > max_chars:
            out.append(current)
            current = ""
        current = f"{current}\n\n{piece}" if current else piece
    if current:
        out.append(current)
    return out


def _split_long(block: str, max_chars: int) -> list[str]:
    if len(block) <= max_chars:
        return [block]
    units = [u for line in block.split("\n") for u in _SENTENCE_END.split(line) if u.strip()]
    out: list[str] = []
    current = ""
    for unit in units:
        while len(unit) > max_chars:
            if current:
                out.append(current)
                current = ""
            out.append(unit[:max_chars])
            unit = unit[max_chars:]
        if current and len(current) + 1 + len(unit) > max_chars:
            out.append(current)
            current = ""
        current = (
            f"{current} {unit}" if current and not _joins_tight(current, unit) else current + unit
        )
    if current:
        out.append(current)
    return out


def _joins_tight(left: str, right: str) -> bool:
    """Chinese sentences join without a space; others with one."""
    return bool(re.match(r"[\u3400-\u9fff]", right[:1])) and bool(
        re.search(r"[\u3000-\u9fff]$", left)
    )
