"""Validate the frames a visitor's widget sends (docs/protocol.md).

Framework-free: each parser takes the decoded JSON object and returns a frozen dataclass or raises
``FrameError`` with a machine-readable code and a message a developer can act on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PROTOCOL_VERSION = 1
# 2000 characters of Chinese (3 bytes each in UTF-8) still fit a frame of CSBOT_MAX_FRAME_BYTES.
MAX_MESSAGE_CHARS = 2000
MAX_COMMENT_CHARS = 1000
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class FrameError(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The frame's field that was refused, for the client to point at (a form's input).
        self.field = field


@dataclass(frozen=True)
class Hello:
    token: str
    version: int
    # The host page the widget is on; empty when not sent or not usable (context only: a page
    # that cannot be stored never costs the visitor the chat).
    page_url: str = ""
    page_title: str = ""


@dataclass(frozen=True)
class Resume:
    last_seq: int


@dataclass(frozen=True)
class Read:
    """The widget showed the conversation's messages up to ``seq`` on screen."""

    seq: int


@dataclass(frozen=True)
class MessageSend:
    client_id: str
    text: str


@dataclass(frozen=True)
class Typing:
    active: bool


@dataclass(frozen=True)
class Identify:
    name: str
    email: str
    external_id: str


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class HandoffRequest:
    """The visitor pressed "talk to a human"."""


@dataclass(frozen=True)
class LeaveMessage:
    """The leave-a-message form, sent when nobody can chat now."""

    client_id: str
    name: str
    email: str
    text: str


@dataclass(frozen=True)
class Feedback:
    """Thumbs up or down on one of the bot's answers, with an optional comment."""

    message_id: int
    value: str
    comment: str


@dataclass(frozen=True)
class Csat:
    """The visitor's 1–5 rating of the help they got, after an agent solved their ticket."""

    rating: int
    comment: str


Frame = (
    Hello
    | Resume
    | Read
    | MessageSend
    | Typing
    | Identify
    | Ping
    | HandoffRequest
    | LeaveMessage
    | Feedback
    | Csat
)


def _field(data: dict[str, Any], name: str, kind: type, *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    # bool is an int subclass; a seq of `true` is a client bug worth reporting.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameError("bad_frame", f"'{name}' must be a {kind.__name__}", field=name)
    if kind is str:
        nul_refuse(name, value)
    return value


def nul_refuse(name: str, value: str) -> None:
    """Refuse a string holding NUL: PostgreSQL text cannot store it, so it is never valid."""
    if "\x00" in value:
        raise FrameError("bad_frame", f"'{name}' must not contain NUL characters", field=name)


def _short_text(data: dict[str, Any], name: str, limit: int) -> str:
    value = _field(data, name, str, required=False) or ""
    if len(value) > limit:
        raise FrameError("bad_frame", f"'{name}' is longer than {limit} characters", field=name)
    return value.strip()


def text_is_blank(text: str) -> bool:
    # Spaces, and what shows nothing (U+200B, U+FEFF, U+2060: format and control characters,
    # which str.strip keeps): such a bubble would only count as a question the bot missed.
    return all(char.isspace() or unicodedata.category(char) in ("Cf", "Cc") for char in text)


MAX_PAGE_URL = 2000
MAX_PAGE_TITLE = 300


def _page(page: Any) -> dict[str, str]:
    """``hello``'s optional ``page``: an http(s) address of at most 2000 characters and a
    title (cut to 300); anything else is left out."""
    if not isinstance(page, dict):
        return {}
    url, title = page.get("url"), page.get("title")
    if not isinstance(url, str) or len(url) > MAX_PAGE_URL or "\x00" in url:
        return {}
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return {}
    if scheme not in ("http", "https"):
        return {}
    title = title if isinstance(title, str) and "\x00" not in title else ""
    return {"page_url": url, "page_title": title.strip()[:MAX_PAGE_TITLE]}


def _client_id(data: dict[str, Any]) -> str:
    client_id = _field(data, "client_id", str)
    if not _CLIENT_ID.fullmatch(client_id):
        raise FrameError("bad_frame", "'client_id' must be 8-64 characters of A-Z a-z 0-9 _ -")
    return client_id


def _text_length_check(text: str) -> None:
    if len(text) > MAX_MESSAGE_CHARS:
        raise FrameError("message_too_long", f"a message is at most {MAX_MESSAGE_CHARS} characters")


def _message(data: dict[str, Any]) -> MessageSend:
    client_id = _client_id(data)
    text = _field(data, "text", str)
    if text_is_blank(text):
        raise FrameError("empty_message", "the message is empty")
    _text_length_check(text)
    return MessageSend(client_id=client_id, text=text)


MAX_FILE_NAME_CHARS = 500


@dataclass(frozen=True)
class Upload:
    """The form fields of an attachment upload (docs/protocol.md), besides the file."""

    client_id: str
    # The message's text beside the file; "" for none.
    caption: str
    # The file's name as the sender's system gave it: shown, never used as a path.
    name: str


def upload_parse(fields: dict[str, Any], *, client_id_required: bool = True) -> Upload:
    """Check an upload's form fields: ``client_id`` (as ``message.send``'s), an optional
    ``caption`` and ``name`` (kept exactly as sent, NUL aside, which is refused)."""
    client_id = _client_id(fields) if client_id_required else ""
    caption = _field(fields, "caption", str, required=False) or ""
    if text_is_blank(caption):
        caption = ""
    _text_length_check(caption)
    name = _field(fields, "name", str, required=False) or ""
    if len(name) > MAX_FILE_NAME_CHARS:
        raise FrameError("bad_frame", f"'name' is longer than {MAX_FILE_NAME_CHARS} characters")
    return Upload(client_id=client_id, caption=caption, name=name)


def _email(data: dict[str, Any]) -> str:
    email = _short_text(data, "email", 254)
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise FrameError("bad_frame", "'email' is not an email address", field="email")
    return email


def frame_parse(data: Any) -> Frame:
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame is a JSON object")
    kind = data.get("type")
    if kind == "hello":
        version = _field(data, "v", int)
        if version != PROTOCOL_VERSION:
            raise FrameError(
                "unsupported_version", f"this server speaks protocol version {PROTOCOL_VERSION}"
            )
        return Hello(token=_field(data, "token", str), version=version, **_page(data.get("page")))
    if kind == "resume":
        last_seq = _field(data, "last_seq", int)
        if last_seq < 0:
            raise FrameError("bad_frame", "'last_seq' must be 0 or more")
        return Resume(last_seq=last_seq)
    if kind == "read":
        seq = _field(data, "seq", int)
        if seq < 1:
            raise FrameError("bad_frame", "'seq' must be 1 or more")
        return Read(seq=seq)
    if kind == "message.send":
        return _message(data)
    if kind == "typing":
        return Typing(active=_field(data, "active", bool))
    if kind == "identify":
        return Identify(
            name=_short_text(data, "name", 200),
            email=_email(data),
            external_id=_short_text(data, "external_id", 200),
        )
    if kind == "ping":
        return Ping()
    if kind == "handoff.request":
        return HandoffRequest()
    if kind == "leave_message":
        message = _message(data)
        email = _email(data)
        if not email:
            raise FrameError("email_required", "leave an email address for the reply")
        return LeaveMessage(
            client_id=message.client_id,
            name=_short_text(data, "name", 200),
            email=email,
            text=message.text,
        )
    if kind == "feedback":
        value = _field(data, "value", str)
        if value not in ("up", "down"):
            raise FrameError("bad_frame", "'value' must be up or down")
        return Feedback(
            message_id=_field(data, "message_id", int),
            value=value,
            comment=_short_text(data, "comment", MAX_COMMENT_CHARS),
        )
    if kind == "csat":
        rating = _field(data, "rating", int)
        if not 1 <= rating <= 5:
            raise FrameError("bad_frame", "'rating' must be 1 to 5")
        return Csat(rating=rating, comment=_short_text(data, "comment", MAX_COMMENT_CHARS))
    raise FrameError("unknown_type", f"unknown frame type {str(kind)[:40]!r}")
