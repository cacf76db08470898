"""Start real ASGI worker processes (uvicorn) against the test database and a real Redis.

Used by the tests that need more than one process: fan-out across workers, killing a worker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from tests.isolation import DEFAULT_FALLBACK_REDIS_URL

ROOT = Path(__file__).resolve().parents[1]
# A Redis database of its own for runs on the embedded default, which have no REDIS_URL.
FALLBACK_REDIS_URL = os.environ.get("CSBOT_TEST_REDIS_URL", DEFAULT_FALLBACK_REDIS_URL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test run is using, for child processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return (
        f"postgresql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@dataclass
class Worker:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def worker_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "csbot.settings",
        "CSBOT_SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL or FALLBACK_REDIS_URL,
        "CSBOT_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSBOT_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def asgi_workers(count: int, **extra_env: str) -> Iterator[list[Worker]]:
    """Run ``count`` uvicorn processes serving csbot.asgi on free loopback ports."""
    workers = []
    env = worker_env(**extra_env)
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "csbot.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            )
            workers.append(Worker(port, process))
        for worker in workers:
            _wait_until_serving(worker)
        yield workers
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # uvicorn waits for open sockets to close; the test is over, so don't.
                worker.process.kill()
                worker.process.wait()


def _wait_until_serving(worker: Worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"worker on port {worker.port} exited with {worker.process.returncode}"
            )
        try:
            httpx.get(worker.http_url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"worker on port {worker.port} did not start in {timeout} s")
