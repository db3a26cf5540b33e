"""``clipsearch check``: prove that catalog, vector index and manifest agree, and repair what doesn't.

What is checked: the catalog's own structure (SQLite's ``quick_check``; ``integrity_check`` with
``deep``); every catalog item has exactly one vector in the FAISS index and the reverse (after the
index has caught up with committed batches, which is how it is always used); stored vectors have
the manifest's dimension and finite, unit-length values; the FAISS file's dimension matches the
manifest, and its vectors are the catalog's (a sample of items searched by their own vector must
come back first with a cosine in [-1, 1]; every item with ``deep``); the files behind the items
still exist.

Repair never needs a full rebuild: the FAISS index is rebuilt from the catalog's stored vectors
(dropping orphans, adding what is missing, replacing damaged bytes), items whose stored vector is
damaged are re-embedded, and items whose file is gone are dropped. A damaged SQLite catalog is
salvaged first (``store/salvage.py``, driven by ``api.check``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..models.encoder import Encoder
from ..store.catalog import NewItem, Replace
from ..store.folder import IndexStore
from ..store.vectors import DEFAULT_INDEX_TYPE, VectorIndex
from .picture import is_document, item_picture

SAMPLE = 20  # ids listed per problem in the report
#: Items searched by their own vector in a quick check of the FAISS file (every item with ``deep``).
SELF_SEARCH_SAMPLE = 256


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
    #: ids whose vector in the FAISS file is not the catalog's (damaged bytes, a cosine past 1)
    damaged_index_vectors: list[int] = field(default_factory=list)
    #: items whose region or tile vectors are damaged (wrong size, NaN, not unit length) or whose
    #: tiles are not all there: a search by a part of a picture would score them wrongly
    bad_region_vectors: list[int] = field(default_factory=list)
    #: what SQLite's quick_check (integrity_check with ``deep``) says is wrong; empty when sound
    catalog_problems: list[str] = field(default_factory=list)
    dimension_ok: bool = True
    deep: bool = False
    repaired: dict[str, int] = field(default_factory=dict)
    #: a damaged catalog's salvage: rows kept and lost per table, where the damaged file was kept
    salvaged: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in PROBLEMS:
            data[f"{key}_count"] = len(data[key])
            data[key] = data[key][:SAMPLE]
        return data


PROBLEMS = ("missing_vectors", "orphan_vectors", "duplicate_vectors", "bad_stored_vectors", "missing_files",
            "damaged_index_vectors", "bad_region_vectors", "catalog_problems")  # fmt: skip


def check_index(store: IndexStore, deep: bool = False) -> CheckReport:
    """Read-only check of one index (the caller may hold the write lock to keep it still)."""
    report = CheckReport(deep=deep)
    report.catalog_problems = store.catalog.integrity(deep)
    if report.catalog_problems:  # rows may be unreadable: the other checks would only stumble
        report.ok = False
        return report
    dim = store.model.dim
    synced = store.manifest.synced_seq
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
    report.bad_region_vectors = _scan_regions(store)
    if report.dimension_ok:
        sound = np.setdiff1d(np.intersect1d(cat, uniq), np.asarray(report.bad_stored_vectors, np.int64))
        report.damaged_index_vectors = _self_search(store, vi, sound, deep)
    report.ok = report.dimension_ok and not any(getattr(report, key) for key in PROBLEMS)
    return report


def _self_search(store: IndexStore, vi: Any, ids: np.ndarray, deep: bool) -> list[int]:
    """Items (a sample, or all with ``deep``) whose vector in the FAISS index is not the catalog's.

    An exact index is compared vector by vector. An approximate one is searched with each item's
    stored vector: damaged when a cosine outside [-1, 1] comes back, or when the item is missing
    from its own top 10 while those 10 are not near-identical twins of it (ties are not damage)."""
    if not len(ids):
        return []
    if not deep and len(ids) > SELF_SEARCH_SAMPLE:
        ids = np.sort(np.random.default_rng(0).choice(ids, SELF_SEARCH_SAMPLE, replace=False))
    dim = store.model.dim
    if isinstance(vi, VectorIndex) and vi.index_type == DEFAULT_INDEX_TYPE:
        held = vi.ids()
        order = np.argsort(held, kind="stable")
        rows = order[np.searchsorted(held, ids, sorter=order)]
        stored = store.catalog.vectors(ids.tolist(), dim)
        with np.errstate(invalid="ignore", over="ignore"):  # damaged bytes read as NaN or inf
            differs = ~(np.abs(vi.vectors()[rows] - stored) <= 1e-4).all(axis=1)
        return ids[differs].tolist()
    bad: list[int] = []
    for start in range(0, len(ids), 4096):
        chunk = ids[start : start + 4096]
        scores, found = vi.search(store.catalog.vectors(chunk.tolist(), dim), min(10, vi.ntotal))
        for row, item in enumerate(chunk.tolist()):
            got = scores[row][found[row] >= 0]
            impossible = not np.all(np.isfinite(got)) or (got.size and float(np.abs(got).max()) > 1.001)
            lost = item not in found[row] and (not got.size or float(got.min()) < 0.99)
            if impossible or lost:
                bad.append(item)
    return bad


def _is_bad(vec: np.ndarray | None) -> bool:
    if vec is None or not np.all(np.isfinite(vec)):
        return True
    with np.errstate(over="ignore"):  # a damaged row of huge values: its norm overflows, and is bad
        return not abs(float(np.linalg.norm(vec.astype(np.float64))) - 1.0) <= 1e-3


def _scan_stored(store: IndexStore) -> tuple[list[int], list[int]]:
    """(every catalog id, ids whose stored vector is damaged: wrong size, NaN, not unit length)."""
    ids_all: list[int] = []
    bad: list[int] = []
    for ids, vecs in _raw_vectors(store):
        ids_all.extend(ids.tolist())
        bad.extend(i for i, vec in zip(ids.tolist(), vecs, strict=True) if _is_bad(vec))
    return ids_all, bad


def _scan_regions(store: IndexStore) -> list[int]:
    """Items with a damaged region or tile vector, or with some of their tiles but not all."""
    from sqlalchemy import select

    from ..config import TILES
    from ..store.schema import REGIONS

    dim, tiles = store.model.dim, set(TILES)
    held: dict[int, set[str]] = {}
    bad: set[int] = set()
    with store.catalog.engine.connect() as conn:
        for item_id, region, blob in conn.execute(select(REGIONS.c.item_id, REGIONS.c.region, REGIONS.c.vector)):
            vec = np.frombuffer(blob, np.float32) if blob is not None and len(blob) == dim * 4 else None
            if _is_bad(vec):
                bad.add(int(item_id))
            held.setdefault(int(item_id), set()).add(region)
    bad |= {i for i, regions in held.items() if regions & tiles and not tiles <= regions}
    return sorted(bad)


def _drop_regions(store: IndexStore, ids: list[int]) -> None:
    """Forget the region and tile vectors of ``ids``: their whole-page vectors still find them."""
    from sqlalchemy import delete

    from ..store.schema import REGIONS

    with store.catalog.engine.begin() as conn:
        for start in range(0, len(ids), 900):
            conn.execute(delete(REGIONS).where(REGIONS.c.item_id.in_(ids[start : start + 900])))


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
    if report.catalog_problems:
        return report  # the catalog itself must be salvaged first (api.check does, then checks again)
    if report.missing_files:
        gone = [r.id for r in store.catalog.items() if not os.path.isfile(r.path)]
        store.catalog.commit_batch(remove=gone)
        repaired["dropped_missing_files"] = len(gone)
    if report.bad_region_vectors:
        _drop_regions(store, report.bad_region_vectors)
        repaired["dropped_bad_region_vectors"] = len(report.bad_region_vectors)
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
                replace.append(Replace(item_id, NewItem.again(row, vec)))
            store.catalog.commit_batch(replace=replace, remove=drop)
            repaired["re_embedded"] = len(replace)
            repaired["dropped_unreadable"] = len(drop)
    # Rebuild the FAISS index from the catalog: drops orphans and duplicates, adds missing vectors.
    fresh = store.rebuild_vectors()
    repaired["vector_index_rebuilt"] = fresh.ntotal
    after = check_index(store, report.deep)
    after.repaired = repaired
    return after
