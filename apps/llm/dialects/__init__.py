"""One module per wire dialect; ``backend_for`` picks the one a route's preset speaks."""

from __future__ import annotations

from apps.llm.dialects.anthropic import AnthropicBackend
from apps.llm.dialects.base import BaseBackend
from apps.llm.dialects.ollama import OllamaBackend
from apps.llm.dialects.openai import OpenAIBackend
from apps.llm.routes import Route


def backend_for(route: Route) -> BaseBackend:
    # Imported here: the offline answerer builds on BaseBackend from this package.
    from apps.llm.offline import OfflineBackend

    dialect = route.preset.dialect
    if dialect == "openai":
        return OpenAIBackend(route)
    if dialect == "anthropic":
        return AnthropicBackend(route)
    if dialect == "ollama":
        return OllamaBackend(route)
    return OfflineBackend(route)
