"""What every runtime gives the rest of the library: the :class:`Encoder` protocol, unit vectors.

The indexer and the query layer see only this protocol, so tests and faster runtimes stand in for
PyTorch without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .registry import ModelInfo


class Encoder(Protocol):
    """What the indexer and the query layer need from a model."""

    info: ModelInfo

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        """PIL image (RGB) -> float32 array (3, H, W) exactly as the model expects.

        ``letterbox``: fit the longest side and pad with white instead of the model's own resize
        (documents: no part of a page may be cropped away)."""

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> (N, dim) float32, rows of unit length."""

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """N strings -> (N, dim) float32, rows of unit length."""

    @property
    def logit_scale(self) -> float:
        """The model's learned temperature (exp'd), for softmax over prompts."""


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero) so inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
