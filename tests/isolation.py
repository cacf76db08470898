"""Redis of its own for each pytest-xdist worker.

pytest-django gives every worker a test database of its own (``test_<name>_gw<n>``); Redis has
no such suffix. Two workers on one Redis database would flush each other's cache
(``cache.clear()`` is ``FLUSHDB``), and pub/sub is not even per database: with the same key
prefix, a group of one worker's conversation 1 would hear the other's. So worker ``gw<n>`` takes
the database ``n`` below the configured one and a key prefix naming it, for the cache, the
channel layer and every server subprocess it starts.

Loaded with ``-p tests.isolation`` because pytest-django reads the settings before any
conftest is imported.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# The Redis database of the drills' server subprocesses on the embedded default, where the
# settings have no REDIS_URL (tests/workers.py).
DEFAULT_FALLBACK_REDIS_URL = "redis://127.0.0.1:6379/13"


def redis_url_for_worker(url: str, index: int) -> str:
    """``url`` moved ``index`` databases down: workers of one run never share a database."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or "db=" in parts.query:
        raise RuntimeError(
            f"{url}: parallel test runs need a redis:// URL with the database in its path "
            "(redis://host:6379/14), or TEST_WORKERS=0"
        )
    database = int(parts.path.strip("/") or 0) - index
    if database < 0:
        raise RuntimeError(
            f"{url} leaves no Redis database for xdist worker {index}: "
            "give the run a higher database number or fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def _isolate_this_worker() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"… in a worker only
    if worker is None:
        return
    index = int(worker.removeprefix("gw"))
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], index)
    os.environ["CSBOT_TEST_REDIS_URL"] = redis_url_for_worker(
        os.environ.get("CSBOT_TEST_REDIS_URL", DEFAULT_FALLBACK_REDIS_URL), index
    )
    os.environ["CSBOT_REDIS_PREFIX"] = f"{os.environ.get('CSBOT_REDIS_PREFIX', 'csbot')}-{worker}"


_isolate_this_worker()
