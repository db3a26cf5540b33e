"""Vectors as the catalog stores them (float32 bytes): written, and read back with damage left out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def from_blobs(rows: Sequence[Any], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) from (id, blob) rows; a damaged blob is left out (``check`` reports it)."""
    good = [r for r in rows if r.vector is not None and len(r.vector) == dim * 4]
    ids = np.fromiter((r.id for r in good), dtype=np.int64, count=len(good))
    vectors = np.frombuffer(b"".join(r.vector for r in good), dtype=np.float32).reshape(len(good), dim)
    unit = unit_rows(vectors)
    return (ids, vectors) if unit.all() else (ids[unit], vectors[unit])


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Which rows are unit vectors, as every stored vector is: a NaN or a 1e30 is damage, whose
    score (2e29) would top every search."""
    with np.errstate(all="ignore"):
        norms = np.linalg.norm(vectors.astype(np.float64), axis=-1)
    return np.isfinite(norms) & (np.abs(norms - 1.0) < 0.01)
