"""A map of the library: every item placed in 2-D from its vector, grouped, each group named.

- **Layout**: UMAP (``umap-learn``, cosine, seeded) from the item vectors. Past :data:`SAMPLE`
  items a seeded sample is laid out and the rest placed by their nearest laid-out neighbours in
  vector space (``method`` says which). Under :data:`SMALL` items UMAP has too few neighbours to
  mean anything: a PCA projection instead.
- **Groups**: HDBSCAN (scikit-learn's) on the 2-D layout, so a group is what the eye sees as one
  island; items in no group are cluster -1. Each group is named by ``naming.py``.
- **Kept up to date, not rebuilt per request**: the map is cached in the index folder (``map.npz``
  beside ``map.json``, written atomically). When items come and go, the gone are dropped and the
  new placed by their neighbours, as the sampled layout places its rest; once the new outnumber
  :data:`RELAYOUT_SHARE` of the map, it is laid out again. A reader maps the last committed
  state: it reads the catalog, never a writer's batch in progress.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_json_atomic
from ..models.encoder import Encoder, normalise
from ..store.folder import IndexStore
from . import naming

MAP_ARRAYS = "map.npz"
MAP_META = "map.json"
MAP_VERSION = 1
#: From this many items a sample of this size is laid out and the rest placed by neighbours.
SAMPLE = 20_000
#: Under this many items the layout is a PCA projection (UMAP needs neighbours to work with).
SMALL = 16
#: New items beyond this share of the map's: laid out again rather than placed.
RELAYOUT_SHARE = 0.25
#: Laid-out neighbours that place a new item (their mean position, their majority group).
NEIGHBOURS = 8
SEED = 42


@dataclass(frozen=True)
class Cluster:
    id: int
    label: str
    phrases: list[str]
    size: int
    #: The item nearest the group's centroid in vector space.
    representative: int
    x: float
    y: float


@dataclass
class LibraryMap:
    """Item ids with their place (``xy``, in 0..1 both ways) and group (``cluster``, -1: none)."""

    ids: np.ndarray
    xy: np.ndarray
    cluster: np.ndarray
    clusters: list[Cluster] = field(default_factory=list)
    #: 'empty', 'single', 'pca', 'umap', or 'umap on a sample of N, the rest placed by neighbours'.
    method: str = "empty"
    #: Items placed by their neighbours since the last layout.
    placed: int = 0
    built_at: float = 0.0
    seconds: float = 0.0
    #: The model the layout is of (another model's map is drawn anew).
    key: str = ""
    #: The phrases the groups are named from (other phrases: the same map, named again).
    names_key: str = ""

    def members(self, cluster_id: int) -> np.ndarray:
        return self.ids[self.cluster == cluster_id]

    def meta(self) -> dict[str, Any]:
        return {"version": MAP_VERSION, "method": self.method, "placed": self.placed, "built_at": self.built_at,
                "seconds": self.seconds, "key": self.key, "names_key": self.names_key,
                "clusters": [asdict(c) for c in self.clusters]}  # fmt: skip


def cached(folder: Path) -> LibraryMap | None:
    """The map kept in ``folder``, or None: none yet, written by another version, damaged, or its
    two files from two different writes (a crash between them): the caller draws it anew."""
    import zipfile

    try:
        meta = json.loads((folder / MAP_META).read_text(encoding="utf-8"))
        with np.load(folder / MAP_ARRAYS) as arrays:
            ids, xy, groups = arrays["ids"], arrays["xy"], arrays["cluster"]
            written = str(arrays["written"]) if "written" in arrays else None
        if not isinstance(meta, dict) or meta.get("version") != MAP_VERSION or meta.get("written") != written:
            return None
        if xy.ndim != 2 or xy.shape[1:] != (2,) or not (len(ids) == len(xy) == len(groups)):
            return None
        if not np.isfinite(xy).all():
            return None
        clusters = [Cluster(**c) for c in meta["clusters"]]
        return LibraryMap(ids, xy, groups, clusters, meta["method"], meta["placed"], meta["built_at"],
                          meta["seconds"], meta["key"], meta.get("names_key", ""))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, EOFError):
        return None


def save(folder: Path, library: LibraryMap) -> None:
    """Keep ``library`` in ``folder``; a folder where it cannot be written keeps none (readers still map).
    Both files carry one mark of this write, so a reader never takes one file's new map with the
    other's old names (:func:`cached`)."""
    import secrets

    written = secrets.token_hex(8)
    try:
        with atomic_path(folder / MAP_ARRAYS) as tmp, open(tmp, "wb") as f:
            np.savez(f, ids=library.ids, xy=library.xy, cluster=library.cluster, written=np.array(written))
        write_json_atomic(folder / MAP_META, {**library.meta(), "written": written})
    except OSError:  # a cache: one that cannot be kept (read-only, full, a folder in the way) is drawn again
        pass


def current(
    store: IndexStore,
    encoder: Callable[[], Encoder],
    extra_phrases: Sequence[str] = (),
    *,
    rebuild: bool = False,
    language: str = "en",
) -> LibraryMap:
    """The map of ``store`` as its catalog is now: the cached one, brought up to date, or a new one.
    ``encoder`` is called only when groups are (re)named; groups are named from the built-in
    vocabulary in ``language`` and ``extra_phrases`` (the index's categories)."""
    phrases = list(dict.fromkeys([*naming.vocabulary(language), *extra_phrases]))
    key, names_key = store.model.ref.label, naming.vocabulary_key(phrases)
    ids = store.catalog.item_ids()
    old = None if rebuild else cached(store.path)
    if old is not None and old.key == key:
        same = len(ids) == len(old.ids) and np.array_equal(np.sort(ids), np.sort(old.ids))
        new = np.setdiff1d(ids, old.ids)
        kept = np.isin(old.ids, ids)
        if same and old.names_key == names_key:
            return old
        if same or (kept.any() and len(new) <= RELAYOUT_SHARE * int(kept.sum())):
            library = _updated(store, old, kept, new, encoder, phrases)
            library.names_key = names_key
            save(store.path, library)
            return library
    started = time.perf_counter()
    library = _built(store, ids, encoder, phrases)
    library.key, library.names_key, library.seconds = key, names_key, round(time.perf_counter() - started, 3)
    save(store.path, library)
    return library


def _built(store: IndexStore, ids: np.ndarray, encoder: Callable[[], Encoder], phrases: list[str]) -> LibraryMap:
    n = len(ids)
    if n == 0:
        return LibraryMap(ids, np.zeros((0, 2), np.float32), np.zeros(0, np.int32), built_at=time.time())
    vectors = store.catalog.vectors(ids.tolist(), store.model.dim)
    # laid out in an order of their own (UMAP depends on the order it is given): the same pictures make
    # the same map, whatever ids their indexing gave them
    order = np.argsort(vectors[:, 0] + 1e-3 * vectors[:, 1], kind="stable")
    ids, vectors = ids[order], vectors[order]
    if n == 1:
        xy, method = np.full((1, 2), 0.5, np.float32), "single"
    elif n < SMALL:
        xy, method = _pca(vectors), "pca"
    elif n <= SAMPLE:
        xy, method = umap_layout(vectors), "umap"
    else:
        pick = np.sort(np.random.default_rng(SEED).choice(n, SAMPLE, replace=False))
        xy = np.zeros((n, 2), np.float32)
        xy[pick] = umap_layout(vectors[pick])
        rest = np.setdiff1d(np.arange(n), pick)
        xy[rest], _ = _placed(vectors[pick], xy[pick], np.zeros(len(pick), np.int32), vectors[rest])
        method = f"umap on a sample of {SAMPLE}, the rest placed by neighbours"
    groups = _groups(xy)
    library = LibraryMap(ids, _unit_square(xy), groups, method=method, built_at=time.time())
    library.clusters = _named(library, vectors, encoder, phrases)
    return library


def _updated(
    store: IndexStore, old: LibraryMap, kept: np.ndarray, new: np.ndarray, encoder: Callable[[], Encoder],
    phrases: list[str],
) -> LibraryMap:  # fmt: skip
    """``old`` less the items gone, with the ``new`` placed by their neighbours; groups renamed."""
    started = time.perf_counter()
    ids, xy, groups = old.ids[kept], old.xy[kept], old.cluster[kept]
    vectors = store.catalog.vectors(ids.tolist(), store.model.dim)
    if len(new):
        fresh = store.catalog.vectors(new.tolist(), store.model.dim)
        new_xy, new_groups = _placed(vectors, xy, groups, fresh)
        ids, xy = np.concatenate([ids, new]), np.concatenate([xy, new_xy])
        groups, vectors = np.concatenate([groups, new_groups]), np.concatenate([vectors, fresh])
    library = LibraryMap(ids, xy.astype(np.float32), groups.astype(np.int32), method=old.method,
                         placed=old.placed + len(new), built_at=time.time(), key=old.key)  # fmt: skip
    library.clusters = _named(library, vectors, encoder, phrases)
    library.seconds = round(time.perf_counter() - started, 3)
    return library


def _pca(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:2].T).astype(np.float32) if vt.shape[0] >= 2 else np.zeros((len(vectors), 2), np.float32)


def umap_layout(vectors: np.ndarray) -> np.ndarray:
    import warnings

    import umap

    with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded means one thread, meant
        warnings.simplefilter("ignore", UserWarning)
        reducer = umap.UMAP(n_neighbors=min(15, len(vectors) - 1), min_dist=0.05, metric="cosine",
                            random_state=SEED, low_memory=True)  # fmt: skip
        return np.asarray(reducer.fit_transform(vectors), np.float32)


def _placed(vectors: np.ndarray, xy: np.ndarray, groups: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where ``new`` vectors go: the similarity-weighted mean place of their :data:`NEIGHBOURS`
    nearest laid-out vectors, and those neighbours' weighted majority group."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, np.float32))
    k = min(NEIGHBOURS, len(vectors))
    sims, near = index.search(np.ascontiguousarray(new, np.float32), k)
    weights = np.maximum(sims, 1e-6)
    weights /= weights.sum(axis=1, keepdims=True)
    places = (xy[near] * weights[..., None]).sum(axis=1)
    votes = groups[near]
    chosen = np.empty(len(new), np.int32)
    for i in range(len(new)):
        options, at = np.unique(votes[i], return_inverse=True)
        chosen[i] = options[np.bincount(at, weights=weights[i]).argmax()]
    return places.astype(np.float32), chosen


def _groups(xy: np.ndarray) -> np.ndarray:
    """HDBSCAN's groups of the layout; a smallest group grows with the square root of the library."""
    n = len(xy)
    if n < SMALL:
        return np.zeros(n, np.int32)
    from sklearn.cluster import HDBSCAN

    smallest = max(5, int(np.sqrt(n) / 2))
    found = HDBSCAN(min_cluster_size=smallest, min_samples=min(smallest, 5), copy=True).fit_predict(xy)
    return np.asarray(found, np.int32)


def _unit_square(xy: np.ndarray) -> np.ndarray:
    """The layout scaled into 0..1 both ways (a side with no spread, one item, sits at 0.5)."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    flat = high - low <= 0
    scaled = (xy - low) / np.where(flat, 1.0, high - low)
    return np.where(flat, 0.5, scaled).astype(np.float32)


def _named(
    library: LibraryMap, vectors: np.ndarray, encoder: Callable[[], Encoder], phrases: list[str]
) -> list[Cluster]:
    """Each group with its names, size, centre on the map and representative item."""
    groups = sorted(int(g) for g in np.unique(library.cluster) if g >= 0)
    if not groups:
        return []
    centres = naming.centroids(vectors, library.cluster, groups)
    names = naming.names_for(centres, phrases, naming.phrase_vectors(encoder(), phrases))
    out = []
    for g, centre, best in zip(groups, centres, names, strict=True):
        inside = np.flatnonzero(library.cluster == g)
        nearest = inside[int(np.argmax(normalise(vectors[inside]) @ centre))]
        x, y = library.xy[inside].mean(axis=0)
        out.append(Cluster(g, ", ".join(best[:2]), best, len(inside), int(library.ids[nearest]), round(float(x), 4),
                           round(float(y), 4)))  # fmt: skip
    return out
