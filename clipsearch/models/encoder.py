"""What every runtime gives the rest of the library: the :class:`Encoder` protocol, unit vectors.

The indexer and the query layer see only this protocol, so tests and faster runtimes stand in for
PyTorch without touching them.
"""

from __future__ import annotations

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

    def encode_texts(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        """N strings -> (N, dim) float32, rows of unit length. ``language``: the texts' language
        (a FLORES-200 code, ``rus_Cyrl``) for models that take one, else ignored; None: detected."""

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
    """What an encoder can do beyond the protocol, declared once (a class attribute of the
    encoder's) instead of probed at each use.

    - ``languages``: its text tower takes the texts' language (NLLB), through ``encode_texts``'s
      ``language``;
    - ``prepares``: ``prepare_images()`` starts loading the image tower on a thread, so the load
      overlaps a run's start-up.
    """

    languages: bool = False
    prepares: bool = False

    @classmethod
    def of(cls, encoder: Any) -> Abilities:
        inner = encoder.inner if isinstance(encoder, EncoderHandle) else encoder
        declared = getattr(inner, "abilities", None)
        return declared if isinstance(declared, Abilities) else cls()


class EncoderHandle:
    """One caller's view of an encoder that the process shares (``runtimes.shared_encoder``): its
    own text language and its own note of what runs and why, so two callers (a server and its
    watcher, two indexes in one program) never see each other's. The shared encoder is never
    written to: a handle passes its language with each call, and :meth:`speaking` gives a new
    handle for another language.

    It is an :class:`Encoder` itself; the shared one is ``inner``."""

    def __init__(self, inner: Encoder, *, language: str | None = None, run_note: dict[str, Any] | None = None) -> None:
        self.inner = inner
        self.info = inner.info
        self.abilities = Abilities.of(inner)
        #: the language of texts to come (a FLORES-200 code, ``rus_Cyrl``); None: detected per text
        self.language = language
        #: what runs the images and why, as it was when this caller loaded the model
        self.run_note: dict[str, Any] | None = dict(run_note) if run_note else None

    def speaking(self, language: str | None) -> EncoderHandle:
        """This handle, for texts in ``language`` (itself where that is its language already)."""
        if language == self.language:
            return self
        return EncoderHandle(self.inner, language=language, run_note=self.run_note)

    @property
    def logit_scale(self) -> float:
        return self.inner.logit_scale

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        return self.inner.preprocess(image, letterbox=letterbox)

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        return self.inner.encode_images(batch)

    def encode_texts(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        if not self.abilities.languages:
            return self.inner.encode_texts(texts)
        return self.inner.encode_texts(texts, language=language or self.language)

    def prepare_images(self) -> None:
        if self.abilities.prepares:
            self.inner.prepare_images()  # type: ignore[attr-defined]
