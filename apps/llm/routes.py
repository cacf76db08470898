"""A route: one provider and model, with the key, address and limits to call it with."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.llm.presets import PRESETS, Preset


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``first_token`` and ``between_tokens`` count any progress (text, reasoning)."""

    connect: float = 5.0
    first_token: float = 30.0
    between_tokens: float = 20.0
    total: float = 120.0


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    model: str
    base_url: str
    api_key: str = field(default="", repr=False)
    timeouts: Timeouts = Timeouts()
    max_tokens: int = 1024
    # Extra tries on this route for retryable errors before the first token.
    max_retries: int = 1
    # The ModelRoute row it came from; None for the environment chain and the offline default.
    route_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def preset(self) -> Preset:
        return PRESETS[self.provider]

    @property
    def breaker_key(self) -> str:
        return f"route:{self.route_id}" if self.route_id is not None else f"env:{self.label}"
