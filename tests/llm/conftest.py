"""Loopback providers and an environment chain pointing at them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from apps.llm import breaker
from apps.llm.loopbound import loop_clients_close
from tests.llm.loopback import LoopbackServer

# Fast enough for tests, slow enough for a loaded CI machine.
TEST_ENV = {
    "CSBOT_LLM_CONNECT_TIMEOUT": "2",
    "CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "5",
    "CSBOT_LLM_BETWEEN_TOKENS_TIMEOUT": "5",
    "CSBOT_LLM_TOTAL_TIMEOUT": "20",
    "CSBOT_LLM_RETRY_BACKOFF": "0.01",
}


@pytest.fixture
def provider() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def backup() -> Iterator[LoopbackServer]:
    """A second provider, for failover."""
    with LoopbackServer() as server:
        yield server


ChainSetter = Callable[..., None]


@pytest.fixture
def chain(monkeypatch: pytest.MonkeyPatch) -> ChainSetter:
    """Configure CSBOT_LLM_CHAIN from ``("provider/model", url)`` pairs, plus extra variables."""
    for name in list(os.environ):
        if name.startswith("CSBOT_LLM_") or name.endswith(("_API_KEY", "_BASE_URL")):
            monkeypatch.delenv(name)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)

    def configure(*routes: tuple[str, str], **variables: str) -> None:
        for spec, url in routes:
            prefix = spec.split("/")[0].upper()
            monkeypatch.setenv(f"{prefix}_BASE_URL", url)
            monkeypatch.setenv(f"{prefix}_API_KEY", f"sk-test-{prefix.lower()}-0123456789")
        monkeypatch.setenv("CSBOT_LLM_CHAIN", ",".join(spec for spec, _ in routes))
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return configure


@pytest.fixture(autouse=True)
def _fresh_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Circuits opened by one test must not skip routes in the next (Redis is flushed per test
    # by the root conftest's cache.clear()).
    monkeypatch.setattr(breaker, "_memory_store", breaker.MemoryStore())


@pytest.fixture(autouse=True)
async def _close_loop_clients() -> AsyncIterator[None]:
    yield
    await loop_clients_close()
