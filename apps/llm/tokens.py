"""Estimate token counts when a provider does not report them (the record says so)."""

from __future__ import annotations

import math
import re

from apps.llm.types import ChatRequest

# CJK ideographs, kana and hangul: roughly one token each in the tokenizers of the providers we
# preset; other text averages about four characters a token.
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Role markers and separators every chat template adds per message.
_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    wide = len(_WIDE.findall(text))
    return wide + math.ceil((len(text) - wide) / 4)


def estimate_input_tokens(request: ChatRequest) -> int:
    return sum(estimate_tokens(message.content) + _PER_MESSAGE for message in request.messages)
