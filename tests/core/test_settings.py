"""Start-up configuration: defaults, production parts, malformed variables named in the error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.lib.env import Env, parse_database_url, validate_redis_url

ROOT = Path(__file__).resolve().parents[2]


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import csbot.settings in a fresh interpreter with exactly these variables."""
    script = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], "
        "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], "
        "'cache': settings.CACHES['default']['BACKEND'], "
        "'language': settings.LANGUAGE_CODE, 'time_zone': settings.TIME_ZONE}))"
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "csbot.settings",
        "CSBOT_STATE_DIR": str(tmp_path),
    }
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_configuration_is_the_embedded_default(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '{"db": "django.db.backends.sqlite3", "layer": "channels.layers.InMemoryChannelLayer", '
        '"cache": "django.core.cache.backends.locmem.LocMemCache", '
        '"language": "en", "time_zone": "Asia/Shanghai"}'
    )
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_and_redis_urls_select_the_production_parts(tmp_path):
    result = load_settings(
        tmp_path,
        DATABASE_URL="postgresql://u:p@127.0.0.1:5432/csbot",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert "django.db.backends.postgresql" in result.stdout
    assert "apps.core.channel_layer.ResubscribingPubSubChannelLayer" in result.stdout
    assert "RedisCache" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("DATABASE_URL", "postgresql://127.0.0.1:notaport/db"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("CSBOT_DEBUG", "maybe"),
        ("CSBOT_MESSAGES_PER_MINUTE", "many"),
        ("CSBOT_MAX_FRAME_BYTES", "10"),
        ("CSBOT_LOG_LEVEL", "LOUD"),
        ("CSBOT_REPLY_LEASE_SECONDS", "nan"),
        ("CSBOT_LLM_TOTAL_TIMEOUT", "inf"),
        ("REDIS_URL", "redis://127.0.0.1:6379/abc"),
        ("CSBOT_EMBEDDINGS", "gateway"),
        ("CSBOT_EMAIL_PORT", "70000"),
        ("CSBOT_LANGUAGE_CODE", "zh-TW"),
        ("CSBOT_LANGUAGE_CODE", "fr"),
        ("CSBOT_TIME_ZONE", "Asia/Beijing"),
        ("CSBOT_LLM_TOTAL_TIMEOUT", "10"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(tmp_path, name, value):
    result = load_settings(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("written", "language"),
    [
        ("zh-CN", "zh-hans"),
        ("zh_Hans", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("en-US", "en"),
        ("", "en"),
    ],
)
def test_language_code_reads_the_usual_spellings_of_its_two_languages(tmp_path, written, language):
    result = load_settings(tmp_path, CSBOT_LANGUAGE_CODE=written, CSBOT_TIME_ZONE="Europe/Paris")

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert (loaded["language"], loaded["time_zone"]) == (language, "Europe/Paris")


def test_a_bad_language_or_time_zone_names_the_accepted_values(tmp_path):
    language = load_settings(tmp_path, CSBOT_LANGUAGE_CODE="zh-Hant").stderr.splitlines()[-1]
    time_zone = load_settings(tmp_path, CSBOT_TIME_ZONE="GMT+8").stderr.splitlines()[-1]

    assert "CSBOT_LANGUAGE_CODE must be en or zh-hans" in language
    assert "got 'zh-Hant'" in language
    assert "CSBOT_TIME_ZONE must be an IANA time zone name such as Asia/Shanghai" in time_zone


def test_database_url_parts_are_decoded():
    parsed = parse_database_url(
        "DATABASE_URL", "postgresql://us%40er:p%3Ass@db.internal:6432/cs%20bot?sslmode=require"
    )
    assert parsed.as_django() == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "cs bot",
        "USER": "us@er",
        "PASSWORD": "p:ss",
        "HOST": "db.internal",
        "PORT": "6432",
        "OPTIONS": {"sslmode": "require"},
    }


def test_sqlite_url_needs_a_file():
    assert parse_database_url("X", "sqlite:////srv/csbot.db").name == "/srv/csbot.db"
    with pytest.raises(ImproperlyConfigured, match="X must name a database file"):
        parse_database_url("X", "sqlite://")


def test_redis_url_needs_a_host():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must name a host"):
        validate_redis_url("REDIS_URL", "redis://")


def test_redis_url_database_is_a_number():
    assert validate_redis_url("R", "redis://127.0.0.1:6379/3") == "redis://127.0.0.1:6379/3"
    with pytest.raises(ImproperlyConfigured, match="Redis databases are numbers"):
        validate_redis_url("R", "redis://127.0.0.1:6379/cache")


def test_env_list_and_bounds():
    env = Env({"HOSTS": " a.example, ,b.example ", "N": "3"})
    assert env.list("HOSTS") == ["a.example", "b.example"]
    with pytest.raises(ImproperlyConfigured, match="N must be at least 5"):
        env.int("N", 10, minimum=5)
    with pytest.raises(ImproperlyConfigured, match="N must be at most 2"):
        env.int("N", 1, maximum=2)


@pytest.mark.django_db
def test_health_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_the_favicon_browsers_ask_for_is_there(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (302, "/static/csbot/favicon.svg")
    assert finders.find("csbot/favicon.svg")
