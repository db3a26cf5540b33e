"""The FAISS vector index: inner product over unit vectors (= cosine), ids equal to catalog ids.

It is a derived structure: everything in it can be rebuilt from the catalog, and changes are
applied idempotently (remove then add) so replaying a batch after a crash never duplicates a vector.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import IndexCorruptError

DEFAULT_INDEX_TYPE = "IDMap2,Flat"
#: Below this many vectors exact search is fast enough and needs no training; above, IVF + SQ8.
FLAT_LIMIT = 100_000
#: From this many vectors the IVF is built from shards and served from disk (``shards.py``): at 512-d,
#: SQ8 codes alone are 5 GB here, more than a search process should hold in memory.
SHARDED_FROM = 10_000_000
SHARDED = "sharded:"
TRAIN_PER_LIST = 39  # FAISS's own minimum of training points per IVF list
TARGET_RECALL = 0.95


def choose_index_type(n: int) -> str:
    """The index type for a collection of ``n`` vectors: exact below FLAT_LIMIT, else IVF with
    ~4*sqrt(n) lists (a power of two) and 8-bit scalar quantisation (4x smaller than float32)."""
    if n < FLAT_LIMIT:
        return DEFAULT_INDEX_TYPE
    by_size = round(np.log2(4 * np.sqrt(n)))
    trainable = int(np.log2(max(1, n // TRAIN_PER_LIST)))  # never more lists than n can train
    ivf = f"IVF{1 << max(1, min(by_size, trainable, 16))},SQ8"
    return SHARDED + ivf if n >= SHARDED_FROM else ivf


def factory_of(index_type: str) -> str:
    """The FAISS factory string of an index type (``sharded:IVF4096,SQ8`` -> ``IVF4096,SQ8``)."""
    return index_type.removeprefix(SHARDED)


def trainable_type(index_type: str, n: int, dim: int) -> str:
    """``index_type`` if ``n`` vectors can train it, else exact search (IVF needs TRAIN_PER_LIST per list)."""
    ivf = ivf_of(VectorIndex.create(dim, factory_of(index_type)).index)
    return DEFAULT_INDEX_TYPE if ivf is not None and n < TRAIN_PER_LIST * ivf.nlist else index_type


def ivf_of(index: object):  # type: ignore[no-untyped-def]
    faiss = _faiss()
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _faiss():  # type: ignore[no-untyped-def]
    import faiss

    return faiss


def gpu_count() -> int:
    """GPUs FAISS can use: 0 with the default faiss-cpu, or where faiss-gpu finds none."""
    get = getattr(_faiss(), "get_num_gpus", None)
    try:
        return int(get()) if get is not None else 0
    except RuntimeError:
        return 0


def train(index: Any, data: np.ndarray) -> None:
    """Train ``index``; an IVF's k-means (most of a build at millions of vectors) runs on every GPU
    when faiss-gpu (``pip install clipsearch[gpu]``) sees one. The trained index is the same kind
    of CPU index either way, so files stay portable between machines with and without GPUs."""
    ivf = ivf_of(index)
    if ivf is None or gpu_count() == 0:
        index.train(data)
        return
    faiss = _faiss()
    clustering = faiss.index_cpu_to_all_gpus(faiss.IndexFlatL2(ivf.d))  # L2 = IP on unit vectors
    ivf.clustering_index = clustering
    try:
        index.train(data)
    finally:
        ivf.clustering_index = None  # FAISS does not own it; ``clustering`` dies with this frame


def smallest_nprobe(
    search_at: Callable[[int], np.ndarray], nlist: int, truth: np.ndarray, k: int = 10, target: float = TARGET_RECALL
) -> tuple[int, float]:
    """(nprobe, recall@k): the smallest power of two up to ``nlist`` whose results
    (``search_at(nprobe)``: found ids, one row per query) reach ``target`` against ``truth`` (the
    exact top-k ids), else the largest tried."""
    nprobe = 1
    while True:
        found = search_at(nprobe)
        recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))
        if recall >= target or nprobe * 2 > nlist:
            return nprobe, recall
        nprobe *= 2


class VectorIndex:
    """A FAISS index plus the facts needed to use it safely."""

    def __init__(self, index: object, dim: int, index_type: str, nprobe: int | None = None) -> None:
        self.index = index
        self.dim = dim
        self.index_type = index_type
        self.nprobe = nprobe or 1

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
        """A fresh index filled from (ids, vectors) chunks, e.g. :meth:`Catalog.all_vectors`.

        Types that need training (IVF) are trained on the first chunks, enough of them for
        TRAIN_PER_LIST points per list."""
        vi = cls.create(dim, index_type)
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        ivf = ivf_of(vi.index)
        need = TRAIN_PER_LIST * ivf.nlist if ivf is not None else 0
        for ids, vecs in chunks:
            if not vi.index.is_trained:
                pending.append((ids, vecs))
                if sum(len(i) for i, _ in pending) < need:
                    continue
                train(vi.index, np.ascontiguousarray(np.concatenate([v for _, v in pending]), dtype=np.float32))
                for pid, pvec in pending:
                    vi.add(pid, pvec)
                pending = []
                continue
            vi.add(ids, vecs)
        if pending:  # too few vectors to train this type: the caller should have chosen a smaller one
            raise IndexCorruptError(f"{index_type} needs at least {need} vectors to train")
        return vi

    def tune(self, queries: np.ndarray, truth: np.ndarray, k: int = 10, target: float = TARGET_RECALL) -> float:
        """Smallest nprobe whose recall@k against ``truth`` (exact top-k ids) reaches ``target``."""
        ivf = ivf_of(self.index)
        if ivf is None:
            self.nprobe = 1
            return 1.0

        def search_at(nprobe: int) -> np.ndarray:
            self.nprobe = nprobe
            return self.search(queries, k)[1]

        self.nprobe, recall = smallest_nprobe(search_at, ivf.nlist, truth, k, target)
        ivf.nprobe = self.nprobe  # saved with the index: the file and its search parameter agree
        return recall

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], dim: int, index_type: str, mmap: bool = False, nprobe: int | None = None
    ) -> VectorIndex:
        index = _take_preloaded(path, mmap)
        if index is None:
            faiss = _faiss()
            try:
                flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
                index = faiss.read_index(os.fspath(path), flags)
            except RuntimeError as err:
                raise IndexCorruptError(f"cannot read vector index {path}: {str(err).splitlines()[0]}") from err
        if index.d != dim:
            raise IndexCorruptError(f"vector index {path} has dimension {index.d}, manifest says {dim}")
        ivf = ivf_of(index)
        return cls(index, dim, index_type, ivf.nprobe if ivf is not None else nprobe)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids held (IDMap indexes: the id map; IVF: the ids stored in the inverted lists)."""
        faiss = _faiss()
        if hasattr(self.index, "id_map"):
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        ivf = ivf_of(self.index)
        lists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(ivf.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors(self) -> np.ndarray:
        """Every vector held, in the order of :meth:`ids` (exact indexes only: ``IDMap2,Flat``)."""
        faiss = _faiss()
        flat = faiss.downcast_index(self.index.index)
        return faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, self.dim)

    def range_search(self, x: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FAISS's (lims, similarities, ids) of every vector within ``threshold`` of each row of ``x``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if ivf_of(self.index) is None:
            return self.index.range_search(x, threshold)
        return self.index.range_search(x, threshold, params=_faiss().SearchParametersIVF(nprobe=self.nprobe))

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
            selector = _allow_selector(faiss, np.ascontiguousarray(allow, dtype=np.int64), keep)
        if deny is not None and len(deny):
            inner = faiss.IDSelectorBatch(np.ascontiguousarray(deny, dtype=np.int64))
            not_sel = faiss.IDSelectorNot(inner)
            keep += [inner, not_sel]
            selector = not_sel if selector is None else faiss.IDSelectorAnd(selector, not_sel)
        x = np.ascontiguousarray(queries, dtype=np.float32)
        ivf = ivf_of(self.index)
        if ivf is None:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, ids = self.index.search(x, k, params=params) if params else self.index.search(x, k)
            return scores, ids
        scores, ids = self.index.search(x, k, params=faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe))
        wanted = min(k, len(allow)) if allow is not None else k
        if selector is not None and int((ids >= 0).sum(axis=1).min()) < wanted:
            # A selective filter can leave fewer than k allowed items in the probed lists: probe them
            # all, so a filter never returns fewer results than exist.
            everything = faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nlist)
            scores, ids = self.index.search(x, k, params=everything)
        del keep
        return scores, ids

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a crash or a full disk leaves the previous file intact."""
        faiss = _faiss()
        # Through Python's own file: a full disk is an OSError here, not a C++ message on stderr.
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
            writer = faiss.PyCallbackIOWriter(f.write)
            faiss.write_index(self.index, writer)
            del writer


#: From this many allowed ids a bitmap (one bit per id up to the largest) is cheaper to build and to
#: test than FAISS's hash-set selector, at every size measured from here up (`make bench`: text).
BITMAP_FROM = 4096


def _allow_selector(faiss: Any, allow: np.ndarray, keep: list[object]) -> Any:
    if len(allow) >= BITMAP_FROM and allow.min() >= 0:
        bits = np.zeros(int(allow.max()) + 1, dtype=bool)
        bits[allow] = True
        bitmap = np.packbits(bits, bitorder="little")  # FAISS reads bit (id & 7) of byte id >> 3
        selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bitmap))
        keep += [bitmap, selector]
        return selector
    selector = faiss.IDSelectorBatch(allow)
    keep.append(selector)
    return selector


_PRELOADS: dict[tuple[str, int, int, bool], Future[Any]] = {}
_PRELOADS_LOCK = threading.Lock()


def _file_key(path: str | os.PathLike[str], mmap: bool) -> tuple[str, int, int, bool] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns, mmap)


def preload(path: str | os.PathLike[str], mmap: bool = False) -> None:
    """Start reading a FAISS file on a background thread; :meth:`VectorIndex.load` of the same,
    unchanged file takes the result. A cold query overlaps it with importing the catalog layer
    (FAISS releases the GIL while it reads)."""
    key = _file_key(path, mmap)
    if key is None:
        return

    def read() -> Any:
        faiss = _faiss()
        return faiss.read_index(key[0], faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0)

    with _PRELOADS_LOCK:
        if key not in _PRELOADS:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipsearch-preload")
            _PRELOADS[key] = pool.submit(read)
            pool.shutdown(wait=False)


def _take_preloaded(path: str | os.PathLike[str], mmap: bool) -> Any:
    key = _file_key(path, mmap)
    with _PRELOADS_LOCK:
        future = _PRELOADS.pop(key, None) if key is not None else None
    if future is None:
        return None
    try:
        return future.result()
    except RuntimeError:
        return None  # read it again the usual way, which reports the problem
