"""The FAISS vector index: inner product over unit vectors (= cosine), ids equal to catalog ids.

It is a derived structure: everything in it can be rebuilt from the catalog, and changes are
applied idempotently (remove then add) so replaying a batch after a crash never duplicates a vector.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import IndexCorruptError

DEFAULT_INDEX_TYPE = "IDMap2,Flat"


def _faiss():  # type: ignore[no-untyped-def]
    import faiss

    return faiss


class VectorIndex:
    """A FAISS index plus the facts needed to use it safely."""

    def __init__(self, index: object, dim: int, index_type: str) -> None:
        self.index = index
        self.dim = dim
        self.index_type = index_type

    @classmethod
    def create(cls, dim: int, index_type: str = DEFAULT_INDEX_TYPE) -> VectorIndex:
        faiss = _faiss()
        try:
            index = faiss.index_factory(dim, index_type, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as err:
            raise IndexCorruptError(f"invalid FAISS index type {index_type!r}: {err}") from err
        return cls(index, dim, index_type)

    @classmethod
    def build(
        cls, dim: int, chunks: Iterable[tuple[np.ndarray, np.ndarray]], index_type: str = DEFAULT_INDEX_TYPE
    ) -> VectorIndex:
        """A fresh index filled from (ids, vectors) chunks, e.g. :meth:`Catalog.all_vectors`."""
        vi = cls.create(dim, index_type)
        for ids, vecs in chunks:
            vi.add(ids, vecs)
        return vi

    @classmethod
    def load(cls, path: str | os.PathLike[str], dim: int, index_type: str, mmap: bool = False) -> VectorIndex:
        faiss = _faiss()
        try:
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
            index = faiss.read_index(os.fspath(path), flags)
        except RuntimeError as err:
            raise IndexCorruptError(f"cannot read vector index {path}: {str(err).splitlines()[0]}") from err
        if index.d != dim:
            raise IndexCorruptError(f"vector index {path} has dimension {index.d}, manifest says {dim}")
        return cls(index, dim, index_type)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids held (IDMap indexes only)."""
        faiss = _faiss()
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
            )

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        faiss = _faiss()
        return int(self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))))

    def apply(self, removed: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Idempotent update: drop ``removed`` and any old copy of ``ids``, then add ``ids``."""
        self.remove(np.union1d(removed.astype(np.int64), ids.astype(np.int64)))
        self.add(ids, vectors)

    def search(
        self, queries: np.ndarray, k: int, allow: np.ndarray | None = None, deny: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k'); unfilled slots have id -1.

        ``allow``/``deny`` restrict the ids considered *inside* FAISS (ID selectors), so a filter
        never needs over-fetching and never returns fewer results than exist.
        """
        k = min(k, self.ntotal)
        if k <= 0 or (allow is not None and not len(allow)):
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        faiss = _faiss()
        keep: list[object] = []  # selectors must outlive the search call
        selector = None
        if allow is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allow, dtype=np.int64))
            keep.append(selector)
        if deny is not None and len(deny):
            inner = faiss.IDSelectorBatch(np.ascontiguousarray(deny, dtype=np.int64))
            not_sel = faiss.IDSelectorNot(inner)
            keep += [inner, not_sel]
            selector = not_sel if selector is None else faiss.IDSelectorAnd(selector, not_sel)
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        x = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = self.index.search(x, k, params=params) if params else self.index.search(x, k)
        del keep
        return scores, ids

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a crash or a full disk leaves the previous file intact."""
        faiss = _faiss()
        with atomic_path(Path(path)) as tmp:
            faiss.write_index(self.index, os.fspath(tmp))
