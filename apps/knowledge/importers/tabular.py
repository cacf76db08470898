"""JSONL and CSV: many entries a file, each with its own line or row number for errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

from django.utils.translation import gettext as _

from apps.core.lib.jsontext import json_parse
from apps.knowledge.importers import (
    ImportedEntry,
    ImportFailed,
    is_web_address,
    language_detect,
    language_parse,
    line_location,
)
from apps.knowledge.importers.encodings import text_decode

_STATUSES = ("draft", "published", "archived")


def jsonl_parse(data: bytes, *, name: str) -> list[ImportedEntry]:
    """One JSON object a line: ``{"id", "lang", "title", "body"}``.

    Optional keys: ``"kind": "faq"`` (title is then the question, body the answer),
    ``"alternatives"`` (list of other phrasings), ``"url"``, ``"tags"``, ``"status"``.
    """
    entries = []
    # Lines end at \n only (JSON Lines): str.splitlines would also cut at U+2028, U+0085 and
    # other separators that JSON leaves unescaped inside strings.
    for number, line in enumerate(text_decode(data, name=name).split("\n"), start=1):
        if not line.strip():
            continue
        location = line_location(name, number)
        try:
            row = json_parse(line)
        except json.JSONDecodeError as exc:
            raise _invalid_json(exc.msg, location) from exc
        except ValueError as exc:
            raise _invalid_json(str(exc), location) from exc
        if not isinstance(row, dict):
            raise ImportFailed(_("each line must be a JSON object"), location=location)
        entries.append(_jsonl_entry(row, location))
    return entries


def _invalid_json(reason: str, location: str) -> ImportFailed:
    # The reason is the json module's own English; the words around it are the admin's.
    return ImportFailed(_("invalid JSON: %(reason)s") % {"reason": reason}, location=location)


def _jsonl_entry(row: dict[str, Any], location: str) -> ImportedEntry:
    for key in ("id", "title"):
        value = row.get(key)
        # bool is an int to isinstance: true would become the id "True".
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
            raise ImportFailed(_("missing %(key)r") % {"key": key}, location=location)
    kind = row.get("kind", "article")
    if kind not in ("article", "faq"):
        raise ImportFailed(
            _("kind must be article or faq, not %(kind)r") % {"kind": kind}, location=location
        )
    body = row.get("body", "")
    if not isinstance(body, str):
        raise ImportFailed(_("body must be a string"), location=location)
    if kind == "faq" and not body.strip():
        raise ImportFailed(_("an FAQ entry needs an answer in body"), location=location)
    alternatives = row.get("alternatives", [])
    if not isinstance(alternatives, list) or not all(isinstance(a, str) for a in alternatives):
        raise ImportFailed(_("alternatives must be a list of strings"), location=location)
    status = row.get("status", "published")
    if status not in _STATUSES:
        raise ImportFailed(
            _("status must be one of %(statuses)s") % {"statuses": ", ".join(_STATUSES)},
            location=location,
        )
    title = str(row["title"]).strip()
    language = (
        language_parse(str(row["lang"]), location=location)
        if row.get("lang")
        else language_detect(f"{title}\n{body}")
    )
    tags = row.get("tags", "")
    if not isinstance(tags, str) and not (
        isinstance(tags, list) and all(isinstance(t, str) for t in tags)
    ):
        raise ImportFailed(_("tags must be a string or a list of strings"), location=location)
    url = row.get("url", "")
    if not isinstance(url, str) or (url and not is_web_address(url)):
        # A citation links to it: anything but a web address would be a dead or unsafe link.
        raise ImportFailed(_("url must be an http:// or https:// address"), location=location)
    return ImportedEntry(
        kind=kind,
        external_id=str(row["id"]).strip(),
        title=title,
        body=body,
        language=language,
        location=location,
        alternatives=tuple(a.strip() for a in alternatives if a.strip()),
        source_url=url,
        tags=", ".join(tags) if isinstance(tags, list) else tags,
        status=status,
    )


# A first CSV row of these names the columns (English or Chinese, as spreadsheets are written).
_QUESTION_HEADERS = frozenset({"question", "questions", "问题", "问", "提问", "常见问题"})
_ANSWER_HEADERS = frozenset({"answer", "answers", "答案", "回答", "答", "解答"})
CSV_ID_PREFIX = "csv-"


def _is_header(row: list[str]) -> bool:
    cells = [cell.strip().lower() for cell in row[:2]]
    return len(cells) == 2 and cells[0] in _QUESTION_HEADERS and cells[1] in _ANSWER_HEADERS


def csv_parse(data: bytes, *, name: str) -> list[ImportedEntry]:
    """FAQ rows ``question,answer[,lang]``; a first row naming those columns (``问题,答案`` too)
    is a header.

    CSV rows carry no id: the external id is derived from the question, so re-importing the
    same file updates answers in place.
    """
    text = text_decode(data, name=name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries = []
    try:
        for row in reader:
            location = line_location(name, reader.line_num)
            if not any(cell.strip() for cell in row):
                continue
            if reader.line_num == 1 and _is_header(row):
                continue
            if len(row) not in (2, 3):
                raise ImportFailed(
                    _("expected question,answer[,lang] but found %(count)s columns")
                    % {"count": len(row)},
                    location=location,
                )
            question, answer = row[0].strip(), row[1].strip()
            if not question or not answer:
                raise ImportFailed(_("question and answer must not be empty"), location=location)
            language = (
                language_parse(row[2], location=location)
                if len(row) == 3 and row[2].strip()
                else language_detect(f"{question}\n{answer}")
            )
            digest = hashlib.sha256(question.encode()).hexdigest()[:16]
            entries.append(
                ImportedEntry(
                    kind="faq",
                    external_id=f"{CSV_ID_PREFIX}{digest}",
                    title=question,
                    body=answer,
                    language=language,
                    location=location,
                )
            )
    except csv.Error as exc:
        raise ImportFailed(
            _("malformed CSV: %(reason)s") % {"reason": exc},
            location=line_location(name, reader.line_num),
        ) from exc
    return entries
