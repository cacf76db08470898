"""Text files' encodings: which one a file is in, and its text, or a refusal naming the line."""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from typing import BinaryIO

from django.utils.translation import gettext as _

from apps.knowledge.importers import ImportFailed, line_location

# Byte-order marks that declare an encoding; a file that has one is read in it or refused.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# The first bytes of a ZIP archive, which .xlsx and .docx files are.
_ZIP_SIGNATURE = b"PK\x03\x04"
# Accepted as text: control characters other than these are not (see _looks_chinese).
_TEXT_CONTROLS = frozenset("\t\n\r\f")


def text_encoding(data: bytes) -> str | None:
    """The encoding ``text_decode`` reads ``data`` in: utf-8-sig, utf-16, utf-8 or gb18030.

    A byte-order mark decides; behind UTF-16's the text must read as English or Chinese
    (``_looks_utf16_text``), or the file is random or binary data. Without one, valid UTF-8 is
    UTF-8 (text in another encoding almost never is). Else GB18030, what Excel on Chinese
    Windows saves (a superset of GBK and GB2312; the byte 0x80 alone is Windows GBK's €), but
    only when the bytes decode cleanly, read as Chinese text *and* do not read as Korean: other
    legacy encodings decode as GB18030 too, into nonsense. None when nothing fits or the bytes
    fit two.
    """
    read = _text_read(data)
    return read[0] if read else None


def _text_read(data: bytes) -> tuple[str, str] | None:
    """The encoding and the text, as ``text_encoding`` describes."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            # Almost any even number of bytes decodes as UTF-16: random or binary data behind
            # its mark reads as a string of unrelated, mostly rare characters.
            if bom in _UTF16_BOMS and not _looks_utf16_text(text):
                return None
            return encoding, text
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _gbk_decode(data)
    if text is not None and _looks_chinese(text) and not _reads_as_korean(data):
        return "gb18030", text
    return None


# Windows' GBK (code page 936) writes € as the byte 0x80 alone; GB18030 has no such byte (its €
# is A2 E3), so Python's codecs refuse a GBK file from Excel that has a price in euros.
_CP936_EURO = "\udc80"  # 0x80 as the surrogateescape error handler leaves it
_UNDECODED = re.compile("[\udc80-\udcff]")


def _gbk_decode(data: bytes) -> str | None:
    """The bytes read as GB18030 with Windows GBK's €; None when some are neither."""
    text = data.decode("gb18030", errors="surrogateescape").replace(_CP936_EURO, "€")
    return None if _UNDECODED.search(text) else text


def _looks_chinese(text: str) -> bool:
    """Text, not another encoding misread as GB18030.

    No control, private-use or unassigned characters (Big5 read as GB18030 is full of private
    use: its commonest characters and punctuation sit in GBK's user-defined areas), and at
    least half of the non-ASCII characters in GB2312, the 7,445 characters common Chinese text
    is written in (Windows-1252 or Shift-JIS read as GB18030 give almost none of them).
    """
    return _reads_as_text(text, _in_gb2312)


def _looks_utf16_text(text: str) -> bool:
    """English or Chinese text, not random or binary data behind UTF-16's byte-order mark.

    As ``_looks_chinese``, but UTF-16 carries any character, so the commonest ones also count
    those of Windows-1252 (English text's ¥ – é €) and beyond the BMP (emoji: random bytes
    make a valid surrogate pair rarely). Random bytes of 16 or more decode, when they do, into
    mostly rare characters (about 1 in 8 of the BMP is in GB2312 or Windows-1252, and 1 in 7
    private-use or unassigned); a handful of bytes can pass as text and is not refused.
    """
    return _reads_as_text(
        text, lambda char: ord(char) > 0xFFFF or _in_gb2312(char) or _in_cp1252(char)
    )


def _reads_as_text(text: str, common: Callable[[str], bool]) -> bool:
    """No control, private-use or unassigned character, and ``common`` true of at least half
    of the non-ASCII ones."""
    wide = [c for c in text if ord(c) > 127]
    for char in text:
        category = unicodedata.category(char)
        if category in ("Co", "Cn", "Cs") or (category == "Cc" and char not in _TEXT_CONTROLS):
            return False
    return sum(1 for c in wide if common(c)) * 2 >= len(wide)


def _encodable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _in_gb2312(char: str) -> bool:
    return _encodable(char, "gb2312")


def _in_cp1252(char: str) -> bool:
    return _encodable(char, "cp1252")


def _reads_as_korean(data: bytes) -> bool:
    """Korean in EUC-KR (or Windows' CP949), which GB18030 reads too, as common Chinese.

    EUC-KR's Hangul sit exactly where GB2312 has most of its commonest characters (rows B0 to
    C8), so Korean passes _looks_chinese as a string of unrelated characters. Chinese read as
    EUC-KR gives Hangul too, but also Hanja and punctuation (是 在 我 有 这 中 一 are beyond row
    C8), about half Hangul; Korean is almost all Hangul. Text that reads as both is refused, not
    guessed: 27 of faq-dev's 3,375 Chinese entries encoded one by one (all shorter than 16
    characters), no whole file.
    """
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        return False
    wide = [c for c in text if ord(c) > 127]
    hangul = sum(1 for c in wide if "\uac00" <= c <= "\ud7a3")
    return hangul * 10 >= len(wide) * 9


def renamed_archive(source: BinaryIO, *, name: str) -> str | None:
    """Why a file to be read as text is refused when it is a ZIP archive (an Excel workbook or
    a Word document renamed .csv or .txt, most often), else None.

    Read as text its bytes fail as an unknown encoding, which sends the admin the wrong way.
    """
    if source.read(len(_ZIP_SIGNATURE)) != _ZIP_SIGNATURE:
        return None
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        names = []
    values = {"name": name}
    if any(entry.startswith("xl/") for entry in names):
        return (
            _(
                "%(name)s is an Excel workbook (.xlsx) with another file name, not text: in Excel, "
                "Save As and choose CSV UTF-8 (Comma delimited), then upload that file."
            )
            % values
        )
    if any(entry.startswith("word/") for entry in names):
        return (
            _(
                "%(name)s is a Word document (.docx) with another file name: rename it to .docx, "
                "or choose the format docx, and upload it again."
            )
            % values
        )
    return (
        _(
            "%(name)s is a ZIP archive (perhaps a spreadsheet or Word file with the wrong file "
            "name), not text: upload the files in it, or the document saved as CSV UTF-8, "
            "Markdown or DOCX."
        )
        % values
    )


def _resave_as_utf8(name: str) -> str:
    """How to save ``name`` again as UTF-8: Excel's way for a table, an editor's for a document
    (a Markdown file refused is not helped by advice about CSV)."""
    if name.lower().endswith((".csv", ".tsv")):
        return _("in Excel, Save As and choose CSV UTF-8 (Comma delimited)")
    return _("in your text editor, save it with the encoding UTF-8")


def text_decode(data: bytes, *, name: str) -> str:
    """The file's text, in the encoding ``text_encoding`` finds; refused, naming the line of
    the first byte that is not UTF-8, when none fits (a file marked UTF-16 that is not: the
    file; a ZIP archive: what it is)."""
    if archive := renamed_archive(io.BytesIO(data), name=name):
        raise ImportFailed(archive)
    read = _text_read(data)
    if read is not None:
        return read[1]
    how = {"how": _resave_as_utf8(name)}
    if data.startswith(_UTF16_BOMS):
        raise ImportFailed(
            _(
                "the file begins with the byte-order mark of UTF-16, but what follows is not "
                "English or Chinese text in UTF-16: it is probably not a text file. Save the "
                "text as UTF-8: %(how)s"
            )
            % how,
            location=name,
        )
    message = (
        _(
            "the text is not in an accepted encoding (UTF-8 with or without BOM, UTF-16 with BOM, "
            "or GB18030/GBK); save the file as UTF-8: %(how)s"
        )
        % how
    )
    try:
        data.decode("utf-8-sig")
        line = 1  # UTF-8 after all: a byte-order mark of UTF-16 its bytes do not follow
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
    raise ImportFailed(message, location=line_location(name, line))
