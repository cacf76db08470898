"""Attachment files: what a file is (from its first bytes), where it is stored, who may fetch it.

The type is sniffed from magic numbers, never taken from the sender's Content-Type or file
name: a script with a ``.png`` name is refused, a PNG named ``invoice.html`` is served as the
PNG it is. Files are stored in the default storage under a random name; the sender's name is
kept only for display. Rows are written by ``apps/chat/services.py``; this module writes and
removes the files themselves.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.urls import reverse
from django.utils import timezone

from apps.core.lib.pii import pii_mask

# Enough for the type and, for every format here but a JPEG with a large EXIF block, the size.
HEAD_BYTES = 64 * 1024
# Signed attachment URLs stay valid this long; every replay and transcript signs afresh.
URL_MAX_AGE = 24 * 60 * 60
_SALT = "csbot.chat.attachment"
# Room for the form's other fields and the multipart framing around the largest file.
FORM_OVERHEAD = 64 * 1024
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


class AttachmentRefused(Exception):
    """The upload cannot be stored: ``status`` and ``code`` for the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def file_too_large() -> AttachmentRefused:
    """The 413 of a file over ``CSBOT_ATTACHMENT_MAX_BYTES``, wherever it is noticed."""
    limit = settings.CSBOT_ATTACHMENT_MAX_BYTES
    return AttachmentRefused(413, "file_too_large", f"a file is at most {limit} bytes")


def content_type_sniff(head: bytes) -> str | None:
    """The type of a file from its first bytes; ``None`` for anything not allowed.

    SVG is refused with HTML: it is XML that can carry script, whatever it shows.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


# Larger than any real image (and than a JPEG or GIF can say); a PNG's header may claim up to
# 2**32 - 1, which PostgreSQL's integer column cannot hold: such a size is unknown, not stored.
_DIMENSION_MAX = 65535


def image_size(content_type: str, head: bytes) -> tuple[int, int] | None:
    """Width and height read from the header, when ``head`` holds them and they are plausible
    (1 to 65535 each); never decodes."""
    size = _header_size(content_type, head)
    if size is None or not all(1 <= side <= _DIMENSION_MAX for side in size):
        return None
    return size


def _header_size(content_type: str, head: bytes) -> tuple[int, int] | None:
    try:
        if content_type == "image/png" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if content_type == "image/gif":
            return struct.unpack("<HH", head[6:10])
        if content_type == "image/webp":
            return _webp_size(head)
        if content_type == "image/jpeg":
            return _jpeg_size(head)
    except struct.error:
        return None
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        return width, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20:21] == b"\x2f":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# Start-of-frame markers: baseline, progressive and the rarer codings, not DHT/JPG/DAC.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return width, height
        at += 2 + struct.unpack(">H", head[at + 2 : at + 4])[0]
    return None


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Spool uploads to disk, and stop reading at ``CSBOT_ATTACHMENT_MAX_BYTES``.

    Past the limit the parse stops at once (``too_large`` says why): the rest of the body is
    neither read into memory nor written anywhere.
    """

    too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.CSBOT_ATTACHMENT_MAX_BYTES:
            self.too_large = True
            self.file.close()
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


@dataclass(frozen=True)
class StoredFile:
    """A file written to storage that no row holds yet (``attachment_file_discard`` it if the
    row is not written)."""

    path: str
    name: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None


def attachment_file_store(*, upload: UploadedFile | None, name: str) -> StoredFile:
    """Check an uploaded file and write it to the default storage under a random name.

    Raises ``AttachmentRefused``: no file or an empty one (400), too large (413), a type
    that is not a PNG, JPEG, GIF, WebP image or PDF (415). ``name`` is the display name.
    """
    if upload is None:
        raise AttachmentRefused(400, "file_missing", "send the file in the 'file' field")
    if upload.size == 0:
        raise AttachmentRefused(400, "file_empty", "the file is empty")
    if upload.size is None or upload.size > settings.CSBOT_ATTACHMENT_MAX_BYTES:
        raise file_too_large()
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    content_type = content_type_sniff(head)
    if content_type is None:
        raise AttachmentRefused(
            415,
            "file_type_not_allowed",
            "only PNG, JPEG, GIF and WebP images and PDF files can be attached",
        )
    size = image_size(content_type, head) if content_type.startswith("image/") else None
    upload.seek(0)
    now = timezone.now()
    random_name = f"attachments/{now:%Y/%m}/{secrets.token_hex(16)}.{_EXTENSIONS[content_type]}"
    try:
        path = default_storage.save(random_name, upload)
    except OSError:
        # A disk that filled mid-write leaves part of the file: removed now, not by the sweep.
        with contextlib.suppress(OSError):
            default_storage.delete(random_name)
        raise
    # Storage moved the spooled file: closed now, its temporary file is not unlinked again
    # when the object is collected (a "No such file" warning).
    upload.close()
    return StoredFile(
        path=path,
        name=name or upload.name or "attachment",
        content_type=content_type,
        size=upload.size,
        width=size[0] if size else None,
        height=size[1] if size else None,
    )


# Extensions a sender may already have given for the type, besides ours.
_EXTENSION_ALIASES = {"image/jpeg": {"jpeg", "jpe"}}


# Both, whatever the server's system: a name comes from the visitor's.
_PATH_SEPARATORS = re.compile(r"[/\\]")


def download_name(name: str, content_type: str) -> str:
    """``name``'s last path segment ending in the sniffed type's extension: what a browser
    saves the file as.

    A file is only what its first bytes say; "invoice.html" that starts ``%PDF-`` would be
    opened as the page it also is once saved under that name. A name sent as
    "../../etc/passwd.png" is saved as "passwd.png" rather than trusting every browser to strip
    the path. The display name stays as sent.
    """
    extension = _EXTENSIONS[content_type]
    name = _PATH_SEPARATORS.split(name)[-1] or "attachment"
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and suffix.lower() in {extension} | _EXTENSION_ALIASES.get(content_type, set()):
        return name
    if dot and stem:
        name = stem
    return f"{name}.{extension}"


# Every extension a file of an allowed type may be named with.
_KNOWN_EXTENSIONS = frozenset(_EXTENSIONS.values()).union(*_EXTENSION_ALIASES.values())


def name_masked(name: str, *, max_length: int) -> str:
    """``name`` with its personal data masked (``pii_mask``), its extension kept, at most
    ``max_length`` characters (a mask may be longer than a short email it replaced).

    The extension is masked apart: in "zhang.san@example.com.pdf" the email's pattern would
    take ".pdf" for the end of the address. Only the extension of a type csbot accepts is one;
    any other suffix ("….13812345678") is masked with the rest.
    """
    stem, dot, suffix = name.rpartition(".")
    if not (dot and stem and suffix.lower() in _KNOWN_EXTENSIONS):
        return pii_mask(name)[:max_length]
    extension = dot + suffix
    return pii_mask(stem)[: max_length - len(extension)] + extension


def attachment_files_discard(paths: Iterable[str]) -> None:
    """Remove stored files (a row that was not written, or rows deleted); missing ones are
    skipped."""
    for path in paths:
        if path:
            default_storage.delete(path)


def attachment_url(attachment_id: int) -> str:
    """The address a visitor's ``<img src>`` can load: signed, carries the id, expires."""
    token = signing.dumps(attachment_id, salt=_SALT, compress=False)
    return f"{reverse('chat:attachment', args=[attachment_id])}?s={token}"


def attachment_url_valid(*, attachment_id: int, token: str) -> bool:
    if len(token) > 200:
        return False
    try:
        signed = signing.loads(token, salt=_SALT, max_age=URL_MAX_AGE)
    except signing.BadSignature:
        return False
    return signed == attachment_id
