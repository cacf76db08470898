"""Logging filters that keep secrets out of log records."""

from __future__ import annotations

import logging

# httpcore's DEBUG trace loggers; their records do not pass through their parent's filters.
HTTP_TRACE_LOGGERS = ("httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.connection")


class HeadersRedacted(logging.Filter):
    """Cut the headers out of httpcore's DEBUG trace of a response.

    A provider may echo the API key it refused in a response header, and a receiver may set
    cookies: the trace prints every header value. The status line is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("receive_response_headers.complete return_value="):
            status = message.split(", [", 1)[0]
            record.msg = f"{status}, <headers redacted>)"
            record.args = ()
        return True


def http_trace_redact() -> None:
    """Install ``HeadersRedacted`` on every httpcore trace logger (idempotent)."""
    for name in HTTP_TRACE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HeadersRedacted) for f in logger.filters):
            logger.addFilter(HeadersRedacted())
