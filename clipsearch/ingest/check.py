"""``clipsearch check``: prove that catalog, vector index and manifest agree, and repair what doesn't.

What is checked: every catalog item has exactly one vector in the FAISS index and the reverse
(after the index has caught up with committed batches, which is how it is always used); stored
vectors have the manifest's dimension and finite, unit-length values; the FAISS file's dimension
matches the manifest; the files behind the items still exist.

Repair never needs a full rebuild: the FAISS index is rebuilt from the catalog's stored vectors
(dropping orphans, adding what is missing), items whose stored vector is damaged are re-embedded,
and items whose file is gone are dropped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..models.encoder import Encoder
from ..store.catalog import NewItem
from ..store.folder import IndexStore
from .picture import is_document, item_picture

SAMPLE = 20  # ids listed per problem in the report


@dataclass
class CheckReport:
    ok: bool = True
    items: int = 0
    vectors: int = 0
    vectors_file_behind_by: int = 0  # catalog batches the FAISS file on disk did not hold yet
    missing_vectors: list[int] = field(default_factory=list)
    orphan_vectors: list[int] = field(default_factory=list)
    duplicate_vectors: list[int] = field(default_factory=list)
    bad_stored_vectors: list[int] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    dimension_ok: bool = True
    repaired: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("missing_vectors", "orphan_vectors", "duplicate_vectors", "bad_stored_vectors", "missing_files"):
            data[f"{key}_count"] = len(data[key])
            data[key] = data[key][:SAMPLE]
        return data


def check_index(store: IndexStore) -> CheckReport:
    """Read-only check of one index (the caller may hold the write lock to keep it still)."""
    report = CheckReport()
    dim = store.model.dim
    synced = int(store.manifest["vectors"].get("synced_seq", 0))
    report.vectors_file_behind_by = max(0, store.catalog.seq() - synced)

    catalog_ids, report.bad_stored_vectors = _scan_stored(store)
    report.items = len(catalog_ids)
    vi = store.vectors()
    report.dimension_ok = vi.dim == dim and int(vi.index.d) == dim
    held = vi.ids()
    report.vectors = len(held)
    uniq, counts = np.unique(held, return_counts=True)
    report.duplicate_vectors = uniq[counts > 1].tolist()
    cat = np.asarray(catalog_ids, dtype=np.int64)
    report.missing_vectors = np.setdiff1d(cat, uniq).tolist()
    report.orphan_vectors = np.setdiff1d(uniq, cat).tolist()
    report.missing_files = sorted({r.path for r in store.catalog.items() if not os.path.isfile(r.path)})
    report.ok = not (
        report.missing_vectors
        or report.orphan_vectors
        or report.duplicate_vectors
        or report.bad_stored_vectors
        or report.missing_files
        or not report.dimension_ok
    )
    return report


def _is_bad(vec: np.ndarray | None) -> bool:
    return vec is None or not np.all(np.isfinite(vec)) or abs(float(np.linalg.norm(vec)) - 1.0) > 1e-3


def _scan_stored(store: IndexStore) -> tuple[list[int], list[int]]:
    """(every catalog id, ids whose stored vector is damaged: wrong size, NaN, not unit length)."""
    ids_all: list[int] = []
    bad: list[int] = []
    for ids, vecs in _raw_vectors(store):
        ids_all.extend(ids.tolist())
        bad.extend(i for i, vec in zip(ids.tolist(), vecs, strict=True) if _is_bad(vec))
    return ids_all, bad


def _raw_vectors(store: IndexStore, chunk: int = 20_000):  # type: ignore[no-untyped-def]
    """(ids, list of vectors or None where the blob has the wrong size) straight from SQLite."""
    dim = store.model.dim
    for rows in store.catalog.vector_rows(chunk):
        ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
        vecs = [
            np.frombuffer(r.vector, dtype=np.float32) if r.vector is not None and len(r.vector) == dim * 4 else None
            for r in rows
        ]
        yield ids, vecs


def repair_index(
    store: IndexStore, report: CheckReport, encoder_factory: Callable[[], Encoder] | None = None
) -> CheckReport:
    """Fix what :func:`check_index` found; the caller holds the write lock. Returns a fresh check."""
    repaired: dict[str, int] = {}
    if report.missing_files:
        gone = [r.id for r in store.catalog.items() if not os.path.isfile(r.path)]
        store.catalog.commit_batch(remove=gone)
        repaired["dropped_missing_files"] = len(gone)
    bad = _scan_stored(store)[1]
    if bad:
        if encoder_factory is None:
            store.catalog.commit_batch(remove=bad)
            repaired["dropped_bad_vectors"] = len(bad)
        else:
            encoder = encoder_factory()
            rows = store.catalog.get(bad)
            replace, drop = [], []
            for item_id, row in rows.items():
                try:
                    image = item_picture(row.path, row.page, row.time, encoder.info.image_size)
                except Exception:
                    drop.append(item_id)
                    continue
                letterbox = is_document(row.path, row.page)
                vec = encoder.encode_images(encoder.preprocess(image, letterbox=letterbox)[None])[0]
                replace.append(
                    (
                        item_id,
                        NewItem(
                            row.path,
                            row.page,
                            row.size,
                            row.mtime_ns,
                            row.content_hash,
                            row.width,
                            row.height,
                            vec,
                            time=row.time,
                        ),
                    )
                )
            store.catalog.commit_batch(replace=replace, remove=drop)
            repaired["re_embedded"] = len(replace)
            repaired["dropped_unreadable"] = len(drop)
    # Rebuild the FAISS index from the catalog: drops orphans and duplicates, adds missing vectors.
    fresh = store.rebuild_vectors()
    repaired["vector_index_rebuilt"] = fresh.ntotal
    after = check_index(store)
    after.repaired = repaired
    return after
