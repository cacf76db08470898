"""Text files' encodings: which one a file is in, and its text, or a refusal naming the line."""

from __future__ import annotations

import codecs
import unicodedata

from django.utils.translation import gettext as _

from apps.knowledge.importers import ImportFailed, line_location

# Byte-order marks that declare an encoding; a file that has one is read in it or refused.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Accepted as text: control characters other than these are not (see _looks_chinese).
_TEXT_CONTROLS = frozenset("\t\n\r\f")


def text_encoding(data: bytes) -> str | None:
    """The encoding ``text_decode`` reads ``data`` in: utf-8-sig, utf-16, utf-8 or gb18030.

    A byte-order mark decides. Without one, valid UTF-8 is UTF-8 (text in another encoding
    almost never is). Else GB18030, what Excel on Chinese Windows saves (a superset of GBK and
    GB2312), but only when the bytes decode cleanly *and* read as Chinese text: other legacy
    encodings decode as GB18030 too, into nonsense. None when nothing fits.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding if _decodes(data, encoding) else None
    if _decodes(data, "utf-8"):
        return "utf-8"
    if _decodes(data, "gb18030") and _looks_chinese(data.decode("gb18030")):
        return "gb18030"
    return None


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _looks_chinese(text: str) -> bool:
    """Text, not another encoding misread as GB18030.

    No control, private-use or unassigned characters (Big5 read as GB18030 is full of private
    use: its commonest characters and punctuation sit in GBK's user-defined areas), and at
    least half of the non-ASCII characters in GB2312, the 7,445 characters common Chinese text
    is written in (Windows-1252 or Shift-JIS read as GB18030 give almost none of them).
    """
    wide = [c for c in text if ord(c) > 127]
    for char in text:
        category = unicodedata.category(char)
        if category in ("Co", "Cn", "Cs") or (category == "Cc" and char not in _TEXT_CONTROLS):
            return False
    common = sum(1 for c in wide if _in_gb2312(c))
    return common * 2 >= len(wide)


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def text_decode(data: bytes, *, name: str) -> str:
    """The file's text, in the encoding ``text_encoding`` finds; refused, naming the line of
    the first byte that is not UTF-8, when none fits."""
    encoding = text_encoding(data)
    if encoding is not None:
        return data.decode(encoding)
    message = _(
        "the text is not in an accepted encoding (UTF-8 with or without BOM, UTF-16 with BOM, "
        "or GB18030/GBK); save the file as UTF-8: in Excel, Save As and choose "
        "CSV UTF-8 (Comma delimited)"
    )
    try:
        data.decode("utf-8-sig")
        line = 1  # UTF-8 after all: a byte-order mark of UTF-16 its bytes do not follow
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
    raise ImportFailed(message, location=line_location(name, line))
