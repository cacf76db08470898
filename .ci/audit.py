"""Fail on a known vulnerability in an installed package, asking PyPI only (docs/security.md).

PyPI's JSON API lists a release's known vulnerabilities (from the OSV database). The release
endpoint, /pypi/NAME/VERSION/json, is asked first; where it is not served (a mirror that serves
only project pages), the project endpoint, /pypi/NAME/json, is used when the installed version
is the latest release: its ``vulnerabilities`` are that release's. A package that neither
answers for is reported as not audited. A release yanked by its maintainers fails too.

    python .ci/audit.py                        # every installed distribution but editable ones
    python .ci/audit.py django==4.2.0 …        # just these
    CSBOT_AUDIT_PYPI=http://127.0.0.1:8080     # another index (tests use a loopback one)

Exit 0: nothing known; 1: a vulnerability or a yanked release; 2: fewer than
CSBOT_AUDIT_MIN_COVERAGE (default 0.9) of the packages could be audited.
"""

from __future__ import annotations

import concurrent.futures
import importlib.metadata
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


@dataclass
class Finding:
    name: str
    version: str
    audited_by: str = ""
    vulnerabilities: list[str] = field(default_factory=list)
    yanked: str | None = None
    error: str = ""


def _installed() -> list[tuple[str, str]]:
    packages = {}
    for dist in importlib.metadata.distributions():
        direct = dist.read_text("direct_url.json")
        if direct and json.loads(direct).get("dir_info", {}).get("editable"):
            continue
        packages[dist.metadata["Name"].lower()] = dist.version
    return sorted(packages.items())


def _get(url: str, *, attempts: int = 3) -> dict | None:
    """The JSON at ``url``; None for a 404. Other failures are retried, then raise."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if attempt == attempts or exc.code < 500:
                raise
        except OSError:
            if attempt == attempts:
                raise
        time.sleep(attempt)
    return None


def _vulnerabilities(data: dict) -> list[str]:
    return [
        f"{v.get('id')} (fixed in {', '.join(v.get('fixed_in') or []) or 'no release yet'})"
        for v in data.get("vulnerabilities") or []
        if not v.get("withdrawn")
    ]


def audit(name: str, version: str, pypi: str) -> Finding:
    finding = Finding(name, version)
    try:
        release = _get(f"{pypi}/pypi/{name}/{version}/json")
        if release is not None:
            finding.audited_by = "release"
            files = release.get("urls") or []
        else:
            project = _get(f"{pypi}/pypi/{name}/json")
            if project is None:
                finding.error = "not on the index"
                return finding
            files = (project.get("releases") or {}).get(version) or []
            if project["info"]["version"] != version:
                finding.error = f"the index serves no release page and {version} is not latest"
                finding.yanked = _yanked(files)
                return finding
            finding.audited_by = "project"
            release = project
        finding.vulnerabilities = _vulnerabilities(release)
        finding.yanked = _yanked(files)
    except (OSError, ValueError, KeyError) as exc:
        finding.error = f"{type(exc).__name__}: {exc}"
    return finding


def _yanked(files: list[dict]) -> str | None:
    for file in files:
        if file.get("yanked"):
            return file.get("yanked_reason") or "no reason given"
    return None


def main(argv: list[str]) -> int:
    pypi = os.environ.get("CSBOT_AUDIT_PYPI", "https://pypi.org").rstrip("/")
    minimum = float(os.environ.get("CSBOT_AUDIT_MIN_COVERAGE", "0.9"))
    packages = [tuple(arg.split("==", 1)) for arg in argv] or _installed()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        findings = list(pool.map(lambda p: audit(p[0], p[1], pypi), packages))
    bad = [f for f in findings if f.vulnerabilities or f.yanked]
    unaudited = [f for f in findings if not f.audited_by]
    for finding in bad:
        for vulnerability in finding.vulnerabilities:
            print(f"VULNERABLE {finding.name} {finding.version}: {vulnerability}")
        if finding.yanked:
            print(f"YANKED {finding.name} {finding.version}: {finding.yanked}")
    for finding in unaudited:
        print(f"not audited: {finding.name} {finding.version} ({finding.error})")
    audited = len(findings) - len(unaudited)
    print(
        f"audit: {audited} of {len(findings)} packages audited against {pypi} "
        f"({sum(f.audited_by == 'release' for f in findings)} by release, "
        f"{sum(f.audited_by == 'project' for f in findings)} as the latest release); "
        f"{len(bad)} with a known problem"
    )
    if bad:
        return 1
    if not findings or audited / len(findings) < minimum:
        print(f"audit: coverage below {minimum:.0%}: the result cannot be trusted")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
