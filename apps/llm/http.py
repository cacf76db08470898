"""The one httpx client model calls go through (per event loop; see ``loopbound``)."""

from __future__ import annotations

import httpx

from apps.llm.loopbound import LoopBound

# Every answer being streamed holds a connection for its whole duration; the pool must not make
# the 101st concurrent visitor queue behind the others (httpx's default is 100).
_LIMITS = httpx.Limits(max_connections=2000, max_keepalive_connections=200, keepalive_expiry=30)
USER_AGENT = "csbot/0.1"


def _client_new() -> httpx.AsyncClient:
    # Generation is far slower than httpx's 5 s default assumes; see HTTPBackend._timeout.
    return httpx.AsyncClient(
        limits=_LIMITS,
        headers={"user-agent": USER_AGENT},
        timeout=None,  # noqa: S113 - every request passes its route's timeouts
    )


async def _client_close(client: httpx.AsyncClient) -> None:
    await client.aclose()


_clients = LoopBound(_client_new, _client_close)


def http_client() -> httpx.AsyncClient:
    return _clients.get()
