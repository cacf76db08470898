"""JSON from outside (websocket frames, request bodies, imported lines), parsed defensively."""

from __future__ import annotations

import json
import re
from typing import Any

# A \uD800–\uDFFF escape: paired, it is one character; alone, json.loads returns a string that
# no UTF-8 encoder, database column or socket accepts.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_parse(text: str) -> Any:
    """``json.loads``, raising ``ValueError`` for everything csbot cannot take in: invalid
    JSON, nesting deeper than the parser's recursion allows, integers of more digits than
    Python converts, and strings holding a lone surrogate."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) and not _is_text(data):
        raise ValueError("a \\u escape leaves a lone surrogate, which is not text")
    return data


def _is_text(data: Any) -> bool:
    """Every string in ``data`` (keys too) encodes to UTF-8."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
