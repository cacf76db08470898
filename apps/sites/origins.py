"""Match a browser's ``Origin`` header against a site's allowed origins."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class OriginPattern:
    scheme: str
    host: str
    port: int
    any_subdomain: bool

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or port != self.port:
            return False
        if self.any_subdomain:
            return host.endswith("." + self.host)
        return host == self.host


def _split_origin(origin: str) -> tuple[str, str, int] | None:
    try:
        # urlsplit refuses a malformed IPv6 host ("http://[::1"); .port an out-of-range port.
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


class BadOrigin(ValueError):
    """A line of the allowed origins that is not an origin (the admin form words it)."""

    def __init__(self, line: str) -> None:
        super().__init__(f"Not an origin: {line!r} (expected e.g. https://shop.example.com)")
        self.line = line


def origin_patterns_parse(text: str) -> list[OriginPattern]:
    """Parse one origin per line; raise ``BadOrigin`` naming the first bad line."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        any_subdomain = "://*." in line
        split = _split_origin(line.replace("://*.", "://", 1))
        if split is None:
            raise BadOrigin(line)
        scheme, host, port = split
        patterns.append(OriginPattern(scheme, host, port, any_subdomain))
    return patterns


def origin_allowed(origin: str | None, patterns: list[OriginPattern]) -> bool:
    if not origin:
        return False
    split = _split_origin(origin)
    if split is None:
        return False
    return any(pattern.matches(*split) for pattern in patterns)
