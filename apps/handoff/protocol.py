"""Validate the frames the agent console sends (docs/handoff.md, "Console socket").

Framework-free: ``frame_parse`` takes the decoded JSON object and returns a ``Frame`` whose
``data`` holds exactly the declared fields, type-checked, or raises ``FrameError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.chat.protocol import MAX_MESSAGE_CHARS, FrameError, nul_refuse, text_is_blank

MAX_NOTE_CHARS = 8000
MAX_FAQ_QUESTION_CHARS = 500
# A search shorter than this would match nearly every ticket's transcript.
SEARCH_MIN_CHARS = 2
SEARCH_MAX_CHARS = 100


@dataclass(frozen=True)
class Spec:
    kind: type
    required: bool = True
    # For strings: the longest allowed, and the shortest once stripped; blank strings count as
    # missing.
    limit: int = 0
    shortest: int = 0


_TICKET = {"ticket_id": Spec(int)}
SCHEMAS: dict[str, dict[str, Spec]] = {
    "ping": {},
    "presence.set": {"availability": Spec(str, limit=10)},
    "ticket.open": _TICKET,
    "ticket.seen": {**_TICKET, "seq": Spec(int)},
    "ticket.leave": _TICKET,
    "ticket.claim": _TICKET,
    "ticket.hand_back": _TICKET,
    "ticket.solve": _TICKET,
    "ticket.close": _TICKET,
    "assist.request": _TICKET,
    "message.send": {**_TICKET, "text": Spec(str, limit=MAX_MESSAGE_CHARS)},
    "note.add": {**_TICKET, "text": Spec(str, limit=MAX_NOTE_CHARS)},
    "typing": {**_TICKET, "active": Spec(bool)},
    "ticket.transfer": {
        **_TICKET,
        "agent_id": Spec(int, required=False),
        "team_id": Spec(int, required=False),
    },
    "ticket.update": {
        **_TICKET,
        "priority": Spec(str, required=False, limit=10),
        "tags": Spec(list, required=False),
        "pending": Spec(bool, required=False),
    },
    "tickets.search": {
        "query": Spec(str, limit=SEARCH_MAX_CHARS, shortest=SEARCH_MIN_CHARS),
        "before_id": Spec(int, required=False),
    },
    "faq.promote": {
        **_TICKET,
        "question": Spec(str, limit=MAX_FAQ_QUESTION_CHARS),
        "answer": Spec(str, limit=MAX_MESSAGE_CHARS),
    },
}


class FrameFieldError(FrameError):
    """A frame of a known type with a bad field: its type and ``ref`` go back with the error, so
    the console can put back the reply it was sending."""

    def __init__(self, error: FrameError, *, frame_type: str, ref: str | None) -> None:
        super().__init__(error.code, error.message)
        self.frame_type = frame_type
        self.ref = ref


@dataclass(frozen=True)
class Frame:
    type: str
    data: Mapping[str, Any]
    # Echoed in the reply, so the console can match answers to what it asked.
    ref: str | None = None


def _value(name: str, spec: Spec, raw: Any) -> Any:
    # bool is an int subclass; a ticket id of `true` is a client bug worth reporting.
    if not isinstance(raw, spec.kind) or (spec.kind is int and isinstance(raw, bool)):
        raise FrameError("bad_frame", f"'{name}' must be a {spec.kind.__name__}")
    if spec.kind is str:
        nul_refuse(name, raw)
        if spec.limit and len(raw) > spec.limit:
            raise FrameError("too_long", f"'{name}' is longer than {spec.limit} characters")
        if text_is_blank(raw):
            raise FrameError("bad_frame", f"'{name}' is empty")
        if len(raw.strip()) < spec.shortest:
            raise FrameError("bad_frame", f"'{name}' is shorter than {spec.shortest} characters")
    if spec.kind is list and not all(
        isinstance(item, str) and len(item) <= 40 and "\x00" not in item for item in raw
    ):
        raise FrameError("bad_frame", f"'{name}' must be a list of short strings")
    return raw


def frame_parse(data: Any) -> Frame:
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame is a JSON object")
    kind = data.get("type")
    schema = SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise FrameError("unknown_type", f"unknown frame type {str(kind)[:40]!r}")
    ref = data.get("ref")
    if ref is not None and not (isinstance(ref, str) and len(ref) <= 64):
        raise FrameError("bad_frame", "'ref' must be a string of at most 64 characters")
    fields: dict[str, Any] = {}
    try:
        for name, spec in schema.items():
            raw = data.get(name)
            if raw is None:
                if spec.required:
                    raise FrameError("bad_frame", f"'{name}' is required")
                continue
            fields[name] = _value(name, spec, raw)
    except FrameError as exc:
        raise FrameFieldError(exc, frame_type=kind, ref=ref) from None
    return Frame(type=kind, data=fields, ref=ref)
