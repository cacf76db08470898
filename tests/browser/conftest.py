"""Browser-test fixtures: the real ASGI app served in this process, and headless Debian Chromium.

For any browser test under ``tests/browser/`` (widget, console, dashboard):

- ``live_app``: uvicorn running ``csbot.asgi.application`` in a thread of this process, so
  ``settings`` overrides apply and it shares the test database (``transactional_db``; on SQLite
  the test database is an in-memory shared-cache database that every thread opens). ``.url``,
  and ``.call(fn, **kwargs)`` to run sync Django code the way the server runs it, so the events
  it publishes after commit reach the sockets the server holds.
- ``browser``: one Chromium for the session. Missing Chromium skips the tests, or fails them
  when ``CI`` or ``CSBOT_REQUIRE_BROWSER`` is set.
- ``context`` / ``page``: a fresh browser context per test that can reach loopback only; an
  uncaught exception in the page fails the test. Override ``browser_context_args`` for a
  viewport or locale. ``new_context(**options)`` opens more (an agent beside the visitor).
- ``host_pages``: a second loopback server standing in for a customer's site: serve any HTML
  from its own origin (``host_pages.serve(path, html)`` returns the URL).
- ``demo_site``: the demo shop's site (``site_demo``), allowed on the live server's and the
  host pages' origins.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async

from apps.core.views import DEMO_SITE_KEY
from apps.sites.models import Language, Site
from tests.browser import answerers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


class LiveServer:
    """Uvicorn serving ``csbot.asgi.application`` on 127.0.0.1 from a background thread."""

    def __init__(self) -> None:
        import uvicorn

        from csbot.asgi import application

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), timeout=10)
        if not self.server.started:
            raise RuntimeError("the live server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def run(self, coroutine: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run sync Django code as a consumer would, so its on_commit events reach the sockets."""
        return self.run(sync_to_async(fn)(**kwargs))

    def channel_layer_drop(self, *, close: bool) -> None:
        """Make the next user of the channel layer create an instance of its own.

        The instance is process-wide and binds to the event loop that receives on it: the
        server's loop during a browser test, each async test's own loop otherwise. ``close``
        lets the server's loop finish its receives and close its connections first.
        """
        from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

        layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
        if close and hasattr(layer, "close_pools"):
            self.run(layer.close_pools())

    def settle(self) -> None:
        """Wait until the browser's sockets are gone and the bot's replies have finished."""
        from apps.bot.services import replies_wait

        deadline = time.monotonic() + 10
        # A test that failed with a browser context of its own open leaves its sockets behind.
        while self.server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.02)
        self.run(replies_wait(), timeout=30)


class HostPages:
    """A loopback HTTP server that serves HTML registered by the test, from an origin of its own.

    Pages must come from a real loopback server: Chromium refuses to let a page whose address it
    does not know (one fulfilled by Playwright's routing) load anything from loopback.
    """

    def __init__(self) -> None:
        pages: dict[str, str] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path``; return its URL."""
        self.pages[path] = html
        return self.origin + path


@pytest.fixture(scope="session")
def _host_pages_process() -> Iterator[HostPages]:
    pages = HostPages()
    pages.thread.start()
    yield pages
    pages.httpd.shutdown()


@pytest.fixture
def host_pages(_host_pages_process: HostPages) -> Iterator[HostPages]:
    yield _host_pages_process
    _host_pages_process.pages.clear()


def wait_until(
    predicate: Callable[[], object], *, timeout: float = 5, interval: float = 0.02
) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def _live_app_process(django_db_setup: None) -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API leaves its event loop marked as running in the test thread between
    # calls, so Django would refuse every ORM call the test (and the database teardown) makes.
    # Only for the duration of a browser test: the websocket tests keep Django's check.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def live_app(
    _orm_beside_playwright: None, _live_app_process: LiveServer, transactional_db: None
) -> Iterator[LiveServer]:
    """The running server, with this test's database; torn down only once its work is done."""
    _live_app_process.channel_layer_drop(close=False)
    yield _live_app_process
    _live_app_process.settle()
    _live_app_process.channel_layer_drop(close=True)


@pytest.fixture
def live_server_url(live_app: LiveServer) -> str:
    return live_app.url


def _browser_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("CSBOT_REQUIRE_BROWSER"))


def _no_browser(reason: str) -> None:
    if _browser_required():
        pytest.fail(
            f"{reason} (browser tests are required here: CI or CSBOT_REQUIRE_BROWSER is set)"
        )
    pytest.skip(reason)


# Playwright's sync API runs its event loop in a greenlet of the test thread and marks that loop
# as the thread's running loop after every call. Left marked, it breaks the tests that follow the
# browser tests in the session (pytest-asyncio cannot start a loop; Django refuses ORM calls). So
# the mark is Playwright's only while a browser test runs (_playwright_turn); between tests
# nothing runs on that loop.
_playwright_loop: list[asyncio.AbstractEventLoop] = []


# After the test database exists, and stopped before it is destroyed (see _orm_beside_playwright).
@pytest.fixture(scope="session")
def _playwright(django_db_setup: None) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install -e '.[dev]')")
    playwright = sync_playwright().start()
    _playwright_loop.append(asyncio.events._get_running_loop())
    yield playwright
    asyncio.events._set_running_loop(_playwright_loop[0])
    playwright.stop()
    asyncio.events._set_running_loop(None)


@pytest.fixture(autouse=True)
def _playwright_turn(_playwright: Any) -> Iterator[None]:
    asyncio.events._set_running_loop(_playwright_loop[0])
    yield
    asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def browser(_playwright: Any) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _no_browser(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    asyncio.events._set_running_loop(None)  # _playwright_turn gives it back per test
    yield browser
    asyncio.events._set_running_loop(_playwright_loop[0])
    browser.close()


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    """Options for ``browser.new_context``; override in a test module or with parametrize."""
    return {"locale": "en-US", "viewport": {"width": 1280, "height": 800}}


def _loopback_only(route: Any) -> None:
    if urlsplit(route.request.url).hostname in LOOPBACK_HOSTS:
        route.fallback()
    else:
        route.abort("blockedbyclient")


@pytest.fixture
def new_context(browser: Any, live_app: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open browser contexts (another person, another device); all closed after the test.

    Each reaches loopback only. Options go to ``browser.new_context`` (default locale en-US).
    """
    opened: list[Any] = []

    def open_context(**options: Any) -> Any:
        context = browser.new_context(**{"locale": "en-US", **options})
        context.set_default_timeout(10_000)
        context.route("**/*", _loopback_only)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., Any], browser_context_args: dict[str, Any]) -> Any:
    return new_context(**browser_context_args)


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    if errors:
        pytest.fail(f"uncaught errors in the page: {errors}")


@pytest.fixture
def demo_site(live_app: LiveServer, host_pages: HostPages) -> Site:
    return Site.objects.create(
        public_key=DEMO_SITE_KEY,
        name="Lumen & Co.",
        allowed_origins=f"{live_app.url}\n{host_pages.origin}",
        default_language=Language.CHINESE,
        greeting="Hi! Ask me about shipping, returns or your order.",
        theme_color="#2563eb",
    )


@pytest.fixture
def answer(settings: Any) -> Iterator[answerers.Script]:
    """Make the bot answer with a script the test controls (tokens, delay, a hold point)."""
    script = answerers.Script()
    settings.CSBOT_ANSWERER = "tests.browser.answerers.scripted"
    answerers.current = script
    yield script
    script.release.set()  # never leave a reply waiting after the test
    answerers.current = None
