"""Fixtures for any suite that needs a model on the wire (the pipeline's, the browser's).

tests/llm/conftest.py uses them; another suite imports the ones it needs into its conftest::

    from tests.llm.fixtures import backup, chain, fresh_breaker, llm_clients_closed, provider

then, in a test: ``chain(("deepseek/deepseek-chat", provider.url))`` and
``provider.reply(openai_stream(["Parcels ship in 48 h [1]."]))`` (tests/llm/provider_replies.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from apps.llm import breaker
from apps.llm.loopbound import loop_clients_close
from tests.llm.loopback import LoopbackServer

__all__ = ["backup", "chain", "fresh_breaker", "llm_clients_closed", "provider"]

# Fast enough for tests, slow enough for a loaded CI machine.
TEST_ENV = {
    "CSBOT_LLM_CONNECT_TIMEOUT": "2",
    "CSBOT_LLM_FIRST_TOKEN_TIMEOUT": "5",
    "CSBOT_LLM_BETWEEN_TOKENS_TIMEOUT": "5",
    "CSBOT_LLM_TOTAL_TIMEOUT": "20",
    "CSBOT_LLM_RETRY_BACKOFF": "0.01",
}

ChainSetter = Callable[..., None]


@pytest.fixture
def provider() -> Iterator[LoopbackServer]:
    """A loopback model provider (see tests/llm/loopback.py)."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def backup() -> Iterator[LoopbackServer]:
    """A second provider, for failover."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def chain(monkeypatch: pytest.MonkeyPatch) -> ChainSetter:
    """Configure CSBOT_LLM_CHAIN from ``("provider/model", url)`` pairs, plus extra variables.

    Every model variable of the machine running the tests is cleared first: no test can reach a
    real provider by accident. Not calling it leaves no chain: the offline answerer.
    """
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


@pytest.fixture
def fresh_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start with every circuit closed (Redis state is flushed by the root conftest already)."""
    monkeypatch.setattr(breaker, "_memory_store", breaker.MemoryStore())


@pytest.fixture
async def llm_clients_closed() -> AsyncIterator[None]:
    """Close the test loop's shared httpx/Redis clients and flush usage records at the end."""
    yield
    await loop_clients_close()
