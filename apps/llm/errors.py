"""Turn a provider's error (status, headers, body in any of its shapes) into one ``LLMError``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

from apps.llm.presets import Preset
from apps.llm.types import RETRYABLE_KINDS, ErrorKind, LLMError

# These say our request itself is wrong for this route: asking the same route again cannot help.
NEVER_RETRIED_STATUSES = frozenset({400, 401, 403, 404, 422})
_STATUS_KINDS: Mapping[int, ErrorKind] = {
    400: "protocol",
    401: "auth",
    402: "quota",
    403: "auth",
    404: "protocol",
    408: "timeout",
    413: "context_length",
    422: "protocol",
    429: "rate_limit",
}
# The longest error text kept: enough for any provider message, bounded for logs and admin.
MESSAGE_LIMIT = 500


def error_from_response(
    *, preset: Preset, status: int, headers: Mapping[str, str], body: bytes
) -> LLMError:
    """Classify a non-2xx response; bodies are parsed as JSON whatever their content type."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return error_from_payload(preset=preset, data=data, status=status, headers=headers)
    text = body.decode("utf-8", "replace").strip() or f"HTTP {status}"
    return _error(preset, status, (), text, headers)


def error_from_payload(
    *,
    preset: Preset,
    data: Mapping[str, Any],
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> LLMError:
    """Classify an error object, whether it came as a body or inside a stream."""
    codes, message = _codes_and_message(data)
    return _error(preset, status, codes, message or json.dumps(data)[:MESSAGE_LIMIT], headers)


def _error(
    preset: Preset,
    status: int | None,
    codes: tuple[str, ...],
    message: str,
    headers: Mapping[str, str] | None,
) -> LLMError:
    named = preset.error_kind_for(codes, " ".join((*codes, message)))
    kind = cast(ErrorKind, named) if named else _kind_for_status(status)
    retryable = kind in RETRYABLE_KINDS and status not in NEVER_RETRIED_STATUSES
    return LLMError(
        kind,
        message[:MESSAGE_LIMIT],
        retryable=retryable,
        status=status,
        provider=preset.name,
        retry_after=retry_after_seconds(headers or {}),
        code=codes[0] if codes else "",
    )


def _kind_for_status(status: int | None) -> ErrorKind:
    if status is None or status >= 500:
        # A stream that reports an error after HTTP 200 failed on the provider's side.
        return "server"
    return _STATUS_KINDS.get(status, "protocol")


def _codes_and_message(data: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """Read codes and message from every error shape in the research file (section 4.9)."""
    codes: list[Any] = []
    message: Any = ""
    error = data.get("error")
    if isinstance(error, dict):
        details = error.get("details")
        codes += [error.get("code"), error.get("type")]
        if isinstance(details, dict):
            codes.append(details.get("error_code"))
        message = error.get("message") or error.get("msg") or ""
    elif isinstance(error, str):
        message = error
    base_resp = data.get("base_resp")
    if isinstance(base_resp, dict):
        codes.append(base_resp.get("status_code"))
        message = message or base_resp.get("status_msg") or ""
    codes += [data.get("code"), data.get("error_code"), data.get("type")]
    message = (
        message
        or data.get("message")
        or data.get("msg")
        or data.get("error_msg")
        or data.get("detail")
        or ""
    )
    names = tuple(
        str(code)
        for code in codes
        if code not in (None, "", "error") and not isinstance(code, bool)
    )
    return names, str(message)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Read ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date) as seconds."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def redact(text: str, secret: str) -> str:
    """Hide ``secret`` in text that may reach logs or the admin (some providers echo keys)."""
    if secret and len(secret) >= 6:
        return text.replace(secret, "***")
    return text
