"""Names for groups of pictures, zero-shot: the phrases of a vocabulary that tell a group apart.

A group's centroid (its items' vectors averaged, renormalised) is compared with every phrase of the
built-in vocabulary (``vocabulary/en.txt``: everyday, document and drawing subjects, colours and
shapes; its common subjects in German, Spanish, French, Russian and Chinese beside it, for
multilingual models) and with the index's own categories, each phrase embedded through the categories' prompt
ensemble. A phrase that matches every group (a model's favourite words) names none: a phrase
scores by how much better it fits this group than the average group, so "blue" names the blue
shapes and not the whole library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np

from ..errors import UsageError
from ..models.encoder import Encoder, normalise
from .categories import TEMPLATES

#: Phrases that name a group (the best first).
NAMES_PER_GROUP = 3


def languages() -> tuple[str, ...]:
    """The languages the built-in vocabulary is written in (ISO 639-1: ``en``, ``de``, ``ru``...)."""
    folder = resources.files(__package__).joinpath("vocabulary")
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt")))


@lru_cache(maxsize=8)
def vocabulary(language: str = "en") -> tuple[str, ...]:
    """The built-in phrases in ``language``, in file order, without comments or repeats."""
    if language not in languages():
        raise UsageError(f"no map vocabulary in {language!r} (there is: {', '.join(languages())})")
    text = resources.files(__package__).joinpath("vocabulary", f"{language}.txt").read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))


def vocabulary_key(phrases: Sequence[str]) -> str:
    """Names the phrase list, so a map named with other phrases is named again."""
    return hashlib.sha1("\n".join(phrases).encode()).hexdigest()[:12]


def phrase_vectors(encoder: Encoder, phrases: Sequence[str]) -> np.ndarray:
    """One unit vector per phrase: its prompt texts (the categories' templates) embedded in one
    batch, normalised, averaged and renormalised. The encoder's text cache keeps them."""
    if not phrases:
        return np.zeros((0, encoder.info.dim), np.float32)
    texts = [t.format(p) for p in phrases for t in TEMPLATES]
    vectors = normalise(encoder.encode_texts(texts)).reshape(len(phrases), len(TEMPLATES), -1)
    return normalise(vectors.mean(axis=1)).astype(np.float32)


def centroids(vectors: np.ndarray, groups: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Unit centroid of each group id in ``ids`` (rows of ``vectors`` whose ``groups`` is that id)."""
    return np.stack([normalise(vectors[groups == g].mean(axis=0)) for g in ids]).astype(np.float32)


def names_for(centres: np.ndarray, phrases: Sequence[str], phrase_vecs: np.ndarray) -> list[list[str]]:
    """The :data:`NAMES_PER_GROUP` phrases that best tell each centroid from the others."""
    if len(centres) == 0 or not phrases:
        return [[] for _ in range(len(centres))]
    fit = centres @ phrase_vecs.T  # groups x phrases
    contrast = fit - fit.mean(axis=0, keepdims=True) if len(centres) > 1 else fit
    best = np.argsort(-contrast, axis=1)[:, :NAMES_PER_GROUP]
    return [[phrases[j] for j in row] for row in best]
