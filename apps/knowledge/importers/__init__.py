"""Parse knowledge files into entries: JSONL and CSV carry many, Markdown/HTML/PDF/DOCX one article.

Parsers only read; ``services.imports.collection_import`` writes. A parser that meets a broken
file raises ``ImportFailed`` naming the line or page, before anything is written, worded in the
active language: the admin's for an upload, English for ``kb_import`` (commands run without one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from apps.core.lib.languages import language_code

FORMATS = ("jsonl", "csv", "md", "html", "pdf", "docx")
# The formats whose bytes are read as text by encodings.text_decode (HTML says its own charset).
TEXT_FORMATS = ("jsonl", "csv", "md")
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".md": "md",
    ".markdown": "md",
    ".txt": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
_HAN = re.compile(r"[\u3400-\u9fff]")
_LETTER = re.compile(r"[^\W\d_]")


class ImportFailed(Exception):
    """A file that cannot be imported; ``location`` names the line, row or page."""

    def __init__(self, message: str, *, location: str = "") -> None:
        self.message = message
        self.location = location
        super().__init__(
            _("%(location)s: %(message)s") % {"location": location, "message": message}
            if location
            else message
        )


@dataclass(frozen=True)
class ImportedEntry:
    """An article or FAQ entry from a file; for an FAQ, title is the question, body the answer."""

    kind: Literal["article", "faq"]
    external_id: str
    title: str
    body: str
    language: str
    location: str = ""
    alternatives: tuple[str, ...] = ()
    source_url: str = ""
    tags: str = ""
    status: str = "published"


def format_detect(name: str, data: bytes) -> str:
    """Guess the format from the file name, then from the first bytes."""
    fmt = _EXTENSIONS.get(PurePath(name).suffix.lower())
    if fmt:
        return fmt
    head = data[:512].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK"):
        return "docx"
    if head[:1] == b"{":
        return "jsonl"
    if head[:1] == b"<":
        return "html"
    raise ImportFailed(
        _("cannot tell the format of %(name)r; pass one of %(formats)s")
        % {"name": name, "formats": ", ".join(FORMATS)}
    )


def language_detect(text: str) -> str:
    """zh-hans when Han characters make up at least a fifth of the letters, else en."""
    letters = len(_LETTER.findall(text[:5000]))
    han = len(_HAN.findall(text[:5000]))
    return "zh-hans" if letters and han / letters >= 0.2 else "en"


def language_parse(value: str, *, location: str) -> str:
    """Map the language codes files use (zh, zh-CN, zh_Hans, en, en-US) to ours."""
    language = language_code(value)
    if not language:
        raise ImportFailed(
            _("unknown language %(value)r; use en or zh") % {"value": value}, location=location
        )
    return language


def is_web_address(url: str) -> bool:
    """An absolute http(s) address with a host and no spaces: what a citation may link to."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 host: "https://[oops/"
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and url.split() == [url]


def line_location(name: str, line: int) -> str:
    """Where in a file an entry or an error is: "faq.csv line 3"."""
    return _("%(name)s line %(line)s") % {"name": name, "line": line}


def entries_parse(data: bytes, *, name: str, fmt: str = "auto") -> list[ImportedEntry]:
    """Parse a file's bytes into entries; ``fmt`` is one of FORMATS or auto."""
    from apps.knowledge.importers import documents, tabular

    if fmt == "auto":
        fmt = format_detect(name, data)
    parsers = {
        "jsonl": tabular.jsonl_parse,
        "csv": tabular.csv_parse,
        "md": documents.markdown_parse,
        "html": documents.html_parse,
        "pdf": documents.pdf_parse,
        "docx": documents.docx_parse,
    }
    if fmt not in parsers:
        raise ImportFailed(
            _("unknown format %(format)r; use one of auto, %(formats)s")
            % {"format": fmt, "formats": ", ".join(FORMATS)}
        )
    # Refused before parsing: an empty article from a blank page, or, with --replace, an
    # emptied collection from a download cut to nothing.
    if not data.strip():
        raise ImportFailed(_("the file is empty; nothing was imported"), location=name)
    entries = parsers[fmt](data, name=name)
    if not entries:
        # A CSV of its header alone, or of blank rows: the same emptied collection.
        raise ImportFailed(_("the file holds no entries; nothing was imported"), location=name)
    return entries
