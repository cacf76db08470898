"""Every test here starts with closed circuits and ends with its loop's clients closed."""

from __future__ import annotations

import pytest

from tests.llm.fixtures import backup, chain, fresh_breaker, llm_clients_closed, provider

__all__ = ["backup", "chain", "fresh_breaker", "llm_clients_closed", "provider"]


@pytest.fixture(autouse=True)
def _isolated(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("fresh_breaker")
    request.getfixturevalue("llm_clients_closed")
