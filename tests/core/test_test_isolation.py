"""The per-worker Redis of parallel test runs (tests/isolation.py)."""

from __future__ import annotations

import pytest

from tests.isolation import redis_url_for_worker


def test_each_worker_takes_the_database_below_the_one_before():
    assert redis_url_for_worker("redis://127.0.0.1:6379/14", 0) == "redis://127.0.0.1:6379/14"
    assert (
        redis_url_for_worker("redis://:pw@127.0.0.1:6379/14", 3) == "redis://:pw@127.0.0.1:6379/11"
    )


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379?db=3", "unix:///run/redis.sock"]
)
def test_a_url_that_leaves_no_database_of_its_own_is_refused(url):
    with pytest.raises(RuntimeError, match="redis"):
        redis_url_for_worker(url, 2)
