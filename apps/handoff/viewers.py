"""Who has a ticket open in their console right now ("Li is viewing"), shared by every worker.

Kept in the shared cache (Redis in production), one key per ticket and agent holding that
agent's consoles with the ticket open: a console marks itself when it opens the ticket and on
every ping (25 s), and unmarks itself when it moves on or closes. A console whose worker died
unmarks nothing; its mark lapses after ``VIEWING_TTL_SECONDS``, so a colleague's console stops
showing it at its next ping. Only the agent's own consoles write the agent's key, so agents
opening a ticket together never overwrite each other.
"""

from __future__ import annotations

import time
from typing import TypedDict

from apps.core.cache import shared_cache
from apps.handoff.selectors import PRESENCE_TIMEOUT

# As long as presence lasts: three missed pings.
VIEWING_TTL_SECONDS = int(PRESENCE_TIMEOUT.total_seconds())


class Viewer(TypedDict):
    id: int
    name: str
    # Typing a reply to the visitor (the console's ``typing`` frame).
    typing: bool


def _key(ticket_id: int, user_id: int) -> str:
    return f"console.viewing.{ticket_id}.{user_id}"


def _live_consoles(entry: dict | None, now: float) -> dict[str, dict]:
    consoles = (entry or {}).get("consoles", {})
    return {channel: mark for channel, mark in consoles.items() if mark["until"] > now}


def viewing_mark(
    *, ticket_id: int, user_id: int, name: str, channel_name: str, typing: bool
) -> None:
    """Record (or refresh) that this console has the ticket open."""
    cache = shared_cache()
    now = time.time()
    consoles = _live_consoles(cache.get(_key(ticket_id, user_id)), now)
    consoles[channel_name] = {"until": now + VIEWING_TTL_SECONDS, "typing": typing}
    cache.set(_key(ticket_id, user_id), {"name": name, "consoles": consoles}, VIEWING_TTL_SECONDS)


def viewing_unmark(*, ticket_id: int, user_id: int, channel_name: str) -> None:
    """This console closed the ticket; the agent still views it from their other consoles."""
    cache = shared_cache()
    entry = cache.get(_key(ticket_id, user_id))
    consoles = _live_consoles(entry, time.time())
    consoles.pop(channel_name, None)
    if consoles and entry is not None:
        cache.set(
            _key(ticket_id, user_id),
            {"name": entry["name"], "consoles": consoles},
            VIEWING_TTL_SECONDS,
        )
    else:
        cache.delete(_key(ticket_id, user_id))


def ticket_viewers(*, ticket_id: int, user_ids: list[int], channel_name: str) -> list[Viewer]:
    """The agents among ``user_ids`` with the ticket open in a live console, by name.

    The console ``channel_name`` asking is left out, not its agent: an agent with the ticket
    open in another tab is listed too, as that tab keeps its own draft and may be typing.
    """
    now = time.time()
    found = shared_cache().get_many([_key(ticket_id, user_id) for user_id in user_ids])
    viewers: list[Viewer] = []
    for user_id in user_ids:
        entry = found.get(_key(ticket_id, user_id))
        consoles = _live_consoles(entry, now)
        consoles.pop(channel_name, None)
        if consoles and entry is not None:
            typing = any(mark["typing"] for mark in consoles.values())
            viewers.append({"id": user_id, "name": entry["name"], "typing": typing})
    return sorted(viewers, key=lambda viewer: (viewer["name"].casefold(), viewer["id"]))
