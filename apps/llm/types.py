"""The gateway's vocabulary: requests, stream events, the one error type and the backend interface.

Backends speak only these frozen dataclasses; provider JSON never leaves a dialect module.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "content_filter", "error"]
ErrorKind = Literal[
    "auth",
    "rate_limit",
    "quota",
    "content_filter",
    "context_length",
    "timeout",
    "server",
    "protocol",
]
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)
# Worth asking the same route again (after a pause); every other kind moves to the next route.
RETRYABLE_KINDS: frozenset[ErrorKind] = frozenset({"rate_limit", "timeout", "server"})


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Document:
    """A knowledge-base passage given alongside the prompt, cited in answers as ``[n]``.

    Network backends ignore documents (the pipeline puts the same passages in the prompt); the
    offline answerer answers from them alone. ``language`` is ``en`` or ``zh-hans``.
    """

    n: int
    title: str
    text: str
    url: str
    language: str
    # The passage's own section heading ("How to make a claim"), "" for an article's opening
    # passage or an FAQ entry.
    heading: str = ""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One generation: the conversation so far and how to sample it.

    ``model`` is filled in by the gateway from each route; callers leave it empty. For backends
    that answer without a model: ``language`` is the visitor's (``en`` or ``zh-hans``),
    ``question`` the question standing alone (when empty, the last user message), and ``focus``
    the visitor's own words when ``question`` joins them to an earlier question.
    """

    messages: tuple[ChatMessage, ...]
    model: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    documents: tuple[Document, ...] = ()
    language: str = "en"
    question: str = ""
    focus: str = ""

    def question_text(self) -> str:
        if self.question:
            return self.question
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning: kept for accounting, never shown to visitors."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    # True when counted by csbot from the text because the provider did not say.
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


StreamEvent = TextDelta | ReasoningDelta | Usage | Finish


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole reply, as ``Backend.complete`` returns it."""

    text: str
    reasoning: str
    usage: Usage
    finish_reason: FinishReason


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    usage: Usage


class LLMError(Exception):
    """Any failure of a model call, with the kind the failover loop decides on.

    ``retryable`` says whether asking the same route again may succeed; ``retry_after`` is the
    pause the provider asked for, in seconds. ``code`` is the provider's own error code, if any.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool | None = None,
        status: int | None = None,
        provider: str = "",
        retry_after: float | None = None,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.status = status
        self.provider = provider
        self.retry_after = retry_after
        self.code = code

    def __str__(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        status = f" HTTP {self.status}" if self.status else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.kind}{status}{code}: {self.message}"

    def __repr__(self) -> str:
        return f"LLMError({self.kind!r}, {self.message!r}, status={self.status!r})"


class Backend(Protocol):
    """What every backend offers; shaped like httpx's transport interface."""

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Yield deltas, then exactly one Usage and one Finish; raise LLMError on failure."""
        ...

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def embed(self, texts: Sequence[str]) -> Embeddings: ...

    async def aclose(self) -> None: ...
