"""Start-up refuses a production that cannot work: several workers without Redis, a weak key."""

from __future__ import annotations

import secrets

from tests.core.test_settings import load_settings

STRONG = secrets.token_urlsafe(50)


def last_line(result) -> str:  # type: ignore[no-untyped-def]
    return result.stderr.splitlines()[-1] if result.stderr else ""


def test_several_workers_without_redis_stop_start_up_naming_the_problem(tmp_path):
    result = load_settings(tmp_path, WEB_CONCURRENCY="4")

    assert result.returncode != 0
    assert "WEB_CONCURRENCY=4 needs REDIS_URL" in last_line(result)


def test_one_worker_without_redis_and_several_with_it_start(tmp_path):
    assert load_settings(tmp_path, WEB_CONCURRENCY="1").returncode == 0
    with_redis = load_settings(tmp_path, WEB_CONCURRENCY="4", REDIS_URL="redis://127.0.0.1:6379/5")
    assert with_redis.returncode == 0, with_redis.stderr


def test_a_short_secret_key_stops_production_start_up_naming_the_variable(tmp_path):
    result = load_settings(tmp_path, CSBOT_SECRET_KEY="short")

    assert result.returncode != 0
    assert "CSBOT_SECRET_KEY is too weak: use at least 50 random characters (5 given)" in (
        last_line(result)
    )


def test_a_strong_key_starts_and_debug_accepts_a_short_one(tmp_path):
    assert load_settings(tmp_path, CSBOT_SECRET_KEY=STRONG).returncode == 0
    assert load_settings(tmp_path, CSBOT_SECRET_KEY="short", CSBOT_DEBUG="1").returncode == 0
