"""What more there is to say about a handoff than its reason: a code and its values.

The English sentence is stored with the ticket (``Ticket.detail``: the admin, webhooks and
exports show it) and the code and values beside it, so the console says the same thing in the
agent's language (``DETAILS`` in static/console/console.js; tests/handoff/test_details.py keeps
the two lists of codes the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_noop

# Marked for the catalog: the admin shows them in its language (apps/chat/admin.py).
ENGLISH = {
    "widget_button": gettext_noop("asked in the widget"),
    "keyword": gettext_noop("keyword: {phrase}"),
    "left_message": gettext_noop("left a message"),
    "unanswered": gettext_noop("{count} question(s) in a row without a grounded answer"),
    "guard_input": gettext_noop("the guard stopped the question: {category}"),
    "guard_output": gettext_noop("the guard stopped the answer: {category}"),
    "provider_filter": gettext_noop("the provider's content filter refused the answer"),
    "model_failed": gettext_noop("no model could answer: {outcome}"),
    "accepted_offer": gettext_noop("accepted the bot's offer of a human"),
    "worker_lost": gettext_noop("the answer stopped mid-stream: the worker writing it went away"),
}


@dataclass(frozen=True)
class HandoffDetail:
    code: str
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ENGLISH:
            raise ValueError(f"unknown handoff detail {self.code!r}")
        # A value missing fails here, where the detail is made, not later inside the handoff.
        self.text  # noqa: B018

    @property
    def text(self) -> str:
        return ENGLISH[self.code].format_map(self.values)


def detail_fields(detail: HandoffDetail | None) -> dict[str, Any]:
    """The ticket's (and the handoff event's) fields for ``detail``."""
    if detail is None:
        return {"detail": "", "detail_code": "", "detail_values": {}}
    return {"detail": detail.text[:500], "detail_code": detail.code, "detail_values": detail.values}
