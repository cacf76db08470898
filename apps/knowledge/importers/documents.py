"""Markdown, HTML, PDF and DOCX files: one article each, headings turned into Markdown headings.

The article's external id is the file name, so importing a changed version of the same file
updates the article; its title is the document's own title, else its first top heading, else the
file name.
"""

from __future__ import annotations

import io
import re
from pathlib import PurePath
from typing import Any

from django.utils.translation import gettext as _

from apps.core.lib.languages import language_code
from apps.knowledge.importers import (
    ImportedEntry,
    ImportFailed,
    is_web_address,
    language_detect,
    line_location,
)
from apps.knowledge.importers.encodings import text_decode

_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_SPACES = re.compile(r"[ \t\u00a0]+")
_SKIPPED_HTML = ("script", "style", "nav", "header", "footer", "noscript", "template", "form")
_BLOCK_HTML = ("p", "li", "pre", "blockquote", "dt", "dd", "tr", "figcaption", "caption")


def _article(
    name: str, title: str, body: str, *, source_url: str = "", language: str = ""
) -> ImportedEntry:
    body = body.strip()
    if not body:
        # A title alone would be cited as the answer to any question on its topic.
        why = (
            _("the document has a title but no text to answer from")
            if title.strip()
            else _("the document has no text")
        )
        raise ImportFailed(why, location=name)
    title = title.strip() or PurePath(name).stem
    return ImportedEntry(
        kind="article",
        external_id=PurePath(name).name,
        title=title[:300],
        body=body,
        language=language or language_detect(f"{title}\n{body}"),
        location=name,
        source_url=source_url,
    )


def markdown_parse(data: bytes, *, name: str) -> list[ImportedEntry]:
    """Front matter's ``title`` and ``lang``, else a leading ``# Title`` line, become the
    title and language; the rest is the body as written."""
    text = text_decode(data, name=name).replace("\r\n", "\n")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ImportFailed(_("binary data in a text file"), location=line_location(name, line))
    meta: dict[str, str] = {}
    if front := _FRONT_MATTER.match(text):
        # Static-site generators' YAML, read for its plain "key: value" lines only.
        for line in front.group(1).split("\n"):
            key, colon, value = line.partition(":")
            if colon:
                meta[key.strip().lower()] = value.strip().strip("\"'")
        text = text[front.end() :]
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    title = meta.get("title", "")
    if first is not None and (match := _H1.match(lines[first])):
        title = title or match.group(1)
        lines = lines[first + 1 :]
    language = language_code(meta.get("lang") or meta.get("language"))
    return [_article(name, title, "\n".join(lines), language=language)]


def html_parse(data: bytes, *, name: str) -> list[ImportedEntry]:
    """Keep headings, paragraphs, list items and table rows; drop scripts, navigation and forms."""
    import lxml.etree
    import lxml.html

    # UTF-8 unless the bytes say otherwise (lxml would guess Latin-1 without a <meta charset>).
    try:
        data.decode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8")
    except UnicodeDecodeError:
        parser = lxml.html.HTMLParser()
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ImportFailed(
            _("not an HTML document: %(reason)s") % {"reason": exc}, location=name
        ) from exc
    title = _clean(root.findtext(".//title") or "")
    canonical = root.find(".//link[@rel='canonical']")
    body = root.find("body")
    if body is None:
        raise ImportFailed(_("the HTML document has no body"), location=name)
    for element in body.iter(*_SKIPPED_HTML):
        element.drop_tree()
    blocks: list[str] = []
    for element in body.iter("h1", "h2", "h3", "h4", "h5", "h6", *_BLOCK_HTML):
        if any(parent.tag in _BLOCK_HTML for parent in element.iterancestors()):
            continue  # its text is already in the enclosing block
        if element.tag == "tr":
            text = " | ".join(_clean(cell.text_content()) for cell in element.iter("td", "th"))
        else:
            text = _clean(element.text_content())
        if not text:
            continue
        if element.tag[0] == "h" and element.tag[1:].isdigit():
            level = int(element.tag[1:])
            if level == 1 and not title:
                title = text
                continue
            if level == 1 and text == title:
                continue
            blocks.append("#" * level + " " + text)
        elif element.tag == "li":
            blocks.append("- " + text)
        else:
            blocks.append(text)
    url = canonical.get("href", "") if canonical is not None else ""
    return [
        _article(name, title, "\n\n".join(blocks), source_url=url if is_web_address(url) else "")
    ]


def pdf_parse(data: bytes, *, name: str) -> list[ImportedEntry]:
    """Text of every page, in order; a page that cannot be read is reported by number."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ImportFailed(_("the PDF is encrypted"), location=name)
        pages = list(reader.pages)
        title = (reader.metadata.title if reader.metadata else None) or ""
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ImportFailed(
            _("not a readable PDF: %(reason)s") % {"reason": exc}, location=name
        ) from exc
    texts = []
    for number, page in enumerate(pages, start=1):
        try:
            texts.append(_clean_lines(page.extract_text() or ""))
        except (PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise ImportFailed(
                _("cannot read the page: %(reason)s") % {"reason": exc},
                location=_("%(name)s page %(page)s") % {"name": name, "page": number},
            ) from exc
    if not any(texts):
        raise ImportFailed(_("the PDF has no extractable text (a scan?)"), location=name)
    return [_article(name, str(title), "\n\n".join(t for t in texts if t))]


def docx_parse(data: bytes, *, name: str) -> list[ImportedEntry]:
    """Heading styles become Markdown headings, list paragraphs bullets, tables rows of cells."""
    import docx

    try:
        title, blocks = _docx_text(docx.Document(io.BytesIO(data)))
    except Exception as exc:
        # python-docx reads parts lazily and has no error of its own for a broken package: a
        # zip without document.xml, XML that does not parse, a part of the wrong kind (KeyError,
        # XMLSyntaxError, AttributeError…) all mean the same to whoever uploaded the file.
        raise ImportFailed(
            _("not a readable DOCX file: %(reason)s") % {"reason": exc}, location=name
        ) from exc
    return [_article(name, title, "\n\n".join(blocks))]


def _docx_text(document: Any) -> tuple[str, list[str]]:
    """The document's title and its blocks of Markdown, in order."""
    import docx

    title = document.core_properties.title or ""
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            for row in block.rows:
                cells = " | ".join(_clean(cell.text) for cell in row.cells)
                if cells.strip(" |"):
                    blocks.append(cells)
            continue
        text = _clean(block.text)
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style == "Title":
            title = title or text
        elif style.startswith("Heading") and style[7:].strip().isdigit():
            blocks.append("#" * min(int(style[7:]), 6) + " " + text)
        elif "List" in style:
            blocks.append("- " + text)
        else:
            blocks.append(text)
    return title, blocks


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _clean_lines(text: str) -> str:
    return "\n".join(_clean(line) for line in text.splitlines()).strip()
