"""What every runtime gives the rest of the library: the :class:`Encoder` protocol, unit vectors.

The indexer and the query layer see only this protocol, so tests and faster runtimes stand in for
PyTorch without touching them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .registry import ModelInfo


class Encoder(Protocol):
    """What the indexer and the query layer need from a model. Abilities some encoders have beyond
    it (a text language, loading ahead, a note of what runs) are declared in :class:`Abilities`."""

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


@dataclass(frozen=True, kw_only=True)
class Abilities:
    """What an encoder can do beyond the protocol, declared once instead of probed at each use.

    - ``languages``: its text tower takes the texts' language (NLLB), through ``language``;
    - ``prepares``: ``prepare_images()`` starts loading the image tower on a thread, so the load
      overlaps a run's start-up;
    - ``run_note``: it says what runs its images and why (``runtimes.load_encoder`` sets it).
    """

    languages: bool = False
    prepares: bool = False
    notes: bool = False

    @classmethod
    def of(cls, encoder: Any) -> Abilities:
        inner = encoder.inner if isinstance(encoder, EncoderHandle) else encoder
        return cls(
            languages=hasattr(inner, "language"),
            prepares=callable(getattr(inner, "prepare_images", None)),
            notes=getattr(inner, "run_note", None) is not None,
        )


#: Held while a handle's language is on the shared encoder, for one call.
_LANGUAGE_LOCK = threading.RLock()


class EncoderHandle:
    """One caller's view of an encoder that the process shares (``runtimes.shared_encoder``): its
    own text language and its own note of what runs and why, so two callers (a server and its
    watcher, two indexes in one program) never overwrite each other's.

    It is an :class:`Encoder` itself; the shared one is ``inner``."""

    def __init__(self, inner: Encoder, *, language: str | None = None) -> None:
        self.inner = inner
        self.info = inner.info
        self.abilities = Abilities.of(inner)
        #: the language of texts to come (a FLORES-200 code, ``rus_Cyrl``); None: detected per text
        self.language = language
        #: what runs the images and why, as it was when this caller loaded the model
        self.run_note: dict[str, Any] | None = dict(getattr(inner, "run_note", None) or {}) or None

    @property
    def logit_scale(self) -> float:
        return self.inner.logit_scale

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        return self.inner.preprocess(image, letterbox=letterbox)

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        return self.inner.encode_images(batch)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not self.abilities.languages:
            return self.inner.encode_texts(texts)
        with _LANGUAGE_LOCK:  # this caller's language for this call only
            held = self.inner.language  # type: ignore[attr-defined]
            self.inner.language = self.language  # type: ignore[attr-defined]
            try:
                return self.inner.encode_texts(texts)
            finally:
                self.inner.language = held  # type: ignore[attr-defined]

    def prepare_images(self) -> None:
        if self.abilities.prepares:
            self.inner.prepare_images()  # type: ignore[attr-defined]
