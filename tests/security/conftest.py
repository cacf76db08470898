"""The handoff personas and socket hygiene, shared: the security suite drives the same sockets."""

from __future__ import annotations

from tests.handoff.conftest import (  # noqa: F401 (fixtures)
    _fresh_channel_layer,
    _no_connection_left_in_the_sync_thread,
    english,
    team,
)
from tests.llm.fixtures import (  # noqa: F401 (fixtures)
    backup,
    chain,
    fresh_breaker,
    llm_clients_closed,
    provider,
)
