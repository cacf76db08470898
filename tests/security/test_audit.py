""".ci/audit.py against a loopback package index: a known vulnerability fails the build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"
ADVISORY = {"id": "PYSEC-2099-1", "fixed_in": ["1.1"], "withdrawn": None}


@pytest.fixture
def index() -> Iterator[tuple[str, dict[str, dict]]]:
    """A package index on 127.0.0.1 serving the JSON pages a test puts in its dict."""
    pages: dict[str, dict] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = pages.get(self.path)
            body = json.dumps(page).encode()
            self.send_response(404 if page is None else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", pages
    server.shutdown()
    server.server_close()


def audit(url: str, *packages: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CSBOT_AUDIT_PYPI": url}
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(AUDIT), *packages],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def release(version: str, vulnerabilities: list[dict], yanked: bool = False) -> dict:
    files = [{"filename": f"demo-{version}.tar.gz", "yanked": yanked, "yanked_reason": "CVE"}]
    return {"info": {"version": version}, "urls": files, "vulnerabilities": vulnerabilities}


def test_a_known_vulnerability_in_a_release_fails(index):
    url, pages = index
    pages["/pypi/demo/1.0/json"] = release("1.0", [ADVISORY])
    pages["/pypi/safe/2.0/json"] = release("2.0", [])
    result = audit(url, "demo==1.0", "safe==2.0")
    assert result.returncode == 1, result.stdout
    assert "VULNERABLE demo 1.0: PYSEC-2099-1 (fixed in 1.1)" in result.stdout


def test_without_release_pages_the_latest_releases_project_page_is_used(index):
    url, pages = index
    pages["/pypi/demo/json"] = {**release("1.0", [ADVISORY]), "releases": {"1.0": []}}
    assert audit(url, "demo==1.0").returncode == 1
    pages["/pypi/demo/json"] = {**release("1.0", []), "releases": {"1.0": []}}
    clean = audit(url, "demo==1.0")
    assert clean.returncode == 0, clean.stdout
    assert "1 of 1 packages audited" in clean.stdout


def test_a_yanked_release_fails(index):
    url, pages = index
    pages["/pypi/demo/1.0/json"] = release("1.0", [], yanked=True)
    result = audit(url, "demo==1.0")
    assert (result.returncode, "YANKED demo 1.0: CVE" in result.stdout) == (1, True)


def test_too_little_audited_is_not_a_pass(index):
    url, pages = index
    # An older release and no release pages: the project page says nothing about 0.9.
    pages["/pypi/demo/json"] = {**release("1.0", []), "releases": {"0.9": [], "1.0": []}}
    result = audit(url, "demo==0.9")
    assert result.returncode == 2, result.stdout
    assert "not audited: demo 0.9" in result.stdout
