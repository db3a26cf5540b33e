"""One big FAISS index built from many shards, served memory-mapped, with a small delta for new items.

autofaiss's design, with FAISS directly (autofaiss and clip-retrieval pin numpy<2):
1. **Train once** on a random sample drawn across all the shards in proportion to their sizes
   (autofaiss reads the *first* vectors, which skews the centroids when shards are ordered by
   folder or date).
2. **Add the shards in parallel**, each to its own copy of the trained empty index, with the
   catalog's ids: Ray tasks when a cluster (or ``ray.init``) is there, one after another otherwise.
   A task reads its shard memory-mapped in chunks, so its memory is one chunk plus its codes.
3. **Merge on disk** (``faiss.contrib.ondisk.merge_ondisk``): one ``.ivfdata`` file of inverted
   lists and a small index file pointing at it, opened memory-mapped: the process holds the
   centroids, the OS pages in the lists a query probes.
4. New items go to an in-memory **delta** (exact inner product), searched beside the big index and
   folded in at the next rebuild: adding to an on-disk index is slow (FAISS wiki).
5. ``nprobe`` is tuned on the collection itself, the smallest reaching the recall asked for.

A shard is a pair of ``.npy`` files, ``NAME.ids.npy`` (int64) and ``NAME.vectors.npy`` (float16 or
float32, unit rows): what an embedding job writes, and what every node must be able to read at
the same path.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import IndexCorruptError, UsageError
from .vectors import SHARDED, VectorIndex, smallest_nprobe

#: Rows read from a shard at a time when adding: bounds a task's memory (512-d fp32: 100 MB).
CHUNK = 50_000
#: Training points per inverted list: FAISS's guidelines ask 30-256 x nlist; k-means on more costs
#: time (tools/gpu_check.py: kmeans_s) for recall the tuned nprobe buys back anyway.
POINTS_PER_LIST = 40
INDEX_FILE = "populated.index"
LISTS_FILE = "lists.ivfdata"
#: The ids the merged index holds, sorted (memory-mapped: which ids a delta hides, without the lists).
IDS_FILE = "ids.npy"
#: Rows per shard when an index folder is built from its catalog (512-d float16: 512 MB).
SHARD_ROWS = 500_000


@dataclass(frozen=True)
class Shard:
    """A shard's two files: ``ids`` (int64, the catalog's ids) and ``vectors`` (one unit row each)."""

    ids: Path
    vectors: Path

    @classmethod
    def write(cls, folder: Path, name: str, ids: np.ndarray, vectors: np.ndarray) -> Shard:
        folder.mkdir(parents=True, exist_ok=True)
        shard = cls(folder / f"{name}.ids.npy", folder / f"{name}.vectors.npy")
        np.save(shard.ids, np.asarray(ids, np.int64))
        np.save(shard.vectors, vectors)
        return shard

    def open(self) -> tuple[np.ndarray, np.ndarray]:
        ids, vectors = np.load(self.ids, mmap_mode="r"), np.load(self.vectors, mmap_mode="r")
        if len(ids) != len(vectors):
            raise UsageError(f"shard {self.vectors} has {len(vectors)} vectors but {len(ids)} ids")
        return ids, vectors


def sample(shards: Sequence[Shard], n: int, seed: int = 0) -> np.ndarray:
    """``n`` random rows across ``shards``, each shard giving its share of the total (float32)."""
    sizes = np.array([len(np.load(s.ids, mmap_mode="r")) for s in shards])
    rng = np.random.default_rng(seed)
    picks = rng.choice(int(sizes.sum()), size=min(n, int(sizes.sum())), replace=False)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    out = []
    for i, shard in enumerate(shards):
        rows = np.sort(picks[(picks >= starts[i]) & (picks < starts[i + 1])] - starts[i])
        if len(rows):
            out.append(np.asarray(shard.open()[1][rows], np.float32))
    return np.concatenate(out)


def train(shards: Sequence[Shard], factory: str, out: Path, seed: int = 0) -> Path:
    """Train ``factory`` (an IVF, e.g. ``IVF4096,SQ8``) on a random sample across the shards."""
    import faiss

    dim = int(np.load(shards[0].vectors, mmap_mode="r").shape[1])
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    points = sample(shards, ivf.nlist * POINTS_PER_LIST, seed)
    index.train(points)
    faiss.write_index(index, str(out))
    return out


def add_shard(trained: str, shard: Shard, out: str) -> tuple[str, int]:
    """Fill a copy of the trained index with one shard (read in chunks); write it to ``out``."""
    import faiss

    index = faiss.read_index(trained)
    ids, vectors = shard.open()
    for start in range(0, len(ids), CHUNK):
        index.add_with_ids(
            np.asarray(vectors[start : start + CHUNK], np.float32), np.asarray(ids[start : start + CHUNK])
        )
    faiss.write_index(index, out)
    return out, int(index.ntotal)


def _add_all(trained: Path, shards: Sequence[Shard], work: Path, use_ray: bool) -> list[str]:
    """Each shard into its own index file: as Ray tasks (one CPU each) or one after another."""
    outs = [str(work / f"shard-{i:05d}.index") for i in range(len(shards))]
    if use_ray:
        import ray

        task = ray.remote(num_cpus=1, max_retries=3)(add_shard)
        done = ray.get([task.remote(str(trained), s, o) for s, o in zip(shards, outs, strict=True)])
    else:
        done = [add_shard(str(trained), s, o) for s, o in zip(shards, outs, strict=True)]
    return [path for path, _ in done]


@dataclass
class BuildReport:
    n: int
    shards: int
    factory: str
    train_s: float
    add_s: float
    merge_s: float
    disk_bytes: int
    parallel: str
    folder: str = ""


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """FAISS's on-disk lists print to the process's standard output (``resizing ...``, ``updating
    ondisk filename ...``) from C++: that would corrupt ``--json`` output, so it goes nowhere."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def build(shards: Sequence[Shard], factory: str, folder: Path, parallel: str = "auto") -> BuildReport:
    """Train, add in parallel, merge on disk into ``folder`` (``populated.index`` + its lists).

    ``parallel``: 'ray' (needs a running Ray or starts a local one), 'none', or 'auto' (Ray when it
    is already initialised)."""
    import faiss
    from faiss.contrib.ondisk import merge_ondisk

    if not shards:
        raise UsageError("no shards to build from")
    use_ray = parallel == "ray" or (parallel == "auto" and _ray_running())
    if parallel == "ray" and not _ray_running():
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    folder.mkdir(parents=True, exist_ok=True)
    work = folder / ".build"
    work.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    trained = train(shards, factory, work / "trained.index")
    t1 = time.perf_counter()
    parts = _add_all(trained, shards, work, use_ray)
    t2 = time.perf_counter()
    index = faiss.read_index(str(trained))
    with _quiet_stdout():
        merge_ondisk(index, parts, str(folder / LISTS_FILE))
    faiss.write_index(index, str(folder / INDEX_FILE))
    np.save(folder / IDS_FILE, np.sort(np.concatenate([np.load(s.ids, mmap_mode="r") for s in shards])))
    for p in [*parts, str(trained)]:
        os.unlink(p)
    work.rmdir()
    t3 = time.perf_counter()
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return BuildReport(int(index.ntotal), len(shards), factory, round(t1 - t0, 2), round(t2 - t1, 2), round(t3 - t2, 2),
                       size, "ray" if use_ray else "none", str(folder))  # fmt: skip


def _ray_running() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return bool(ray.is_initialized())


def build_from_chunks(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]], factory: str, folder: Path, shard_rows: int = SHARD_ROWS
) -> BuildReport:
    """:func:`build` from (ids, vectors) chunks (an index folder's catalog, in id order): written as
    float16 shards of ``shard_rows`` in ``folder``/.shards first, deleted after the build."""
    work = folder / ".shards"
    work.mkdir(parents=True, exist_ok=True)
    written: list[Shard] = []
    ids_part: list[np.ndarray] = []
    vec_part: list[np.ndarray] = []

    def flush() -> None:
        if ids_part:
            name = f"part{len(written):05d}"
            written.append(Shard.write(work, name, np.concatenate(ids_part), np.concatenate(vec_part)))
            ids_part.clear()
            vec_part.clear()

    for ids, vectors in chunks:
        ids_part.append(np.asarray(ids, np.int64))
        vec_part.append(np.asarray(vectors, np.float16))
        if sum(len(i) for i in ids_part) >= shard_rows:
            flush()
    flush()
    try:
        return build(written, factory, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class ShardedIndex:
    """The merged index, memory-mapped, plus an in-memory delta for what changed since the build.

    It answers as :class:`~.vectors.VectorIndex` does (``search`` with allow/deny filters inside
    FAISS, ``apply``, ``ids``, ``save``), so an index folder serves either. Changes since the build
    never touch the big files: a new or re-embedded item goes to the delta (exact search) and hides
    its old copy, a removed one is hidden; both are folded in by the next build. ``save`` writes the
    delta and the hidden ids to one small file, atomically."""

    def __init__(self, folder: Path, nprobe: int = 16, index_type: str | None = None) -> None:
        import faiss

        path = folder / INDEX_FILE
        if not path.is_file():
            raise IndexCorruptError(f"no sharded index in {folder}")
        try:  # the lists file is found beside the index file, whatever folder it was built in
            with _quiet_stdout():
                big = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR)
            self.built_ids = np.load(folder / IDS_FILE, mmap_mode="r")
        except (RuntimeError, OSError, ValueError) as err:
            raise IndexCorruptError(f"cannot read sharded index {folder}: {str(err).splitlines()[0]}") from err
        self.folder = folder
        self.index = big
        self.dim = int(big.d)
        self.index_type = index_type or SHARDED + "IVF"
        self.ivf = faiss.extract_index_ivf(big)
        self.big = VectorIndex(big, self.dim, self.index_type, nprobe)
        self.nprobe = nprobe
        self.delta = VectorIndex.create(self.dim)
        self.hidden = np.zeros(0, np.int64)  # sorted ids whose copy in the big index no longer counts

    @property
    def nprobe(self) -> int:
        return int(self.big.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self.big.nprobe = self.ivf.nprobe = int(value)

    def _built(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the big index holds (a binary search in the sorted id file)."""
        if not len(self.built_ids) or not len(ids):
            return np.zeros(len(ids), bool)
        at = np.searchsorted(self.built_ids, ids).clip(0, len(self.built_ids) - 1)
        return np.asarray(self.built_ids[at]) == ids

    @property
    def ntotal(self) -> int:
        return int(len(self.built_ids) - self._built(self.hidden).sum() + self.delta.ntotal)

    def ids(self) -> np.ndarray:
        kept = np.setdiff1d(np.asarray(self.built_ids), self.hidden, assume_unique=True)
        return np.concatenate([kept, self.delta.ids()])

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        """New or re-embedded items, searchable at once (exact), until the next build folds them in."""
        self.apply(np.zeros(0, np.int64), np.asarray(list(ids), np.int64), vectors)

    def remove(self, ids: Iterable[int]) -> None:
        """Items deleted since the build: hidden from results until the next build drops them."""
        self.apply(np.asarray(list(ids), np.int64), np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32))

    def apply(self, removed: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Idempotent, as :meth:`VectorIndex.apply`: hide ``removed`` and the old copies of ``ids``."""
        gone = np.union1d(np.asarray(removed, np.int64), np.asarray(ids, np.int64))
        self.hidden = np.union1d(self.hidden, gone[self._built(gone)])
        self.delta.apply(gone, np.asarray(ids, np.int64), vectors)

    def search(
        self, queries: np.ndarray, k: int, allow: np.ndarray | None = None, deny: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) from the big index (hidden ids denied inside FAISS) and the delta, merged."""
        q = np.ascontiguousarray(queries, np.float32)
        hide = self.hidden if deny is None else np.union1d(self.hidden, deny)
        parts = [self.big.search(q, k, allow, hide if len(hide) else None)]
        if self.delta.ntotal:
            parts.append(self.delta.search(q, k, allow, deny))
        scores = np.concatenate([s for s, _ in parts], 1)
        ids = np.concatenate([i for _, i in parts], 1)
        scores = np.where(ids < 0, -np.inf, scores)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)

    def range_search(self, x: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FAISS's (lims, similarities, ids) of everything within ``threshold``, hidden ids left out."""
        lims, sims, ids = self.big.range_search(x, threshold)
        keep = ~np.isin(ids, self.hidden)
        rows = [(sims[a:b][keep[a:b]], ids[a:b][keep[a:b]]) for a, b in itertools.pairwise(lims)]
        if self.delta.ntotal:
            dl, ds, di = self.delta.range_search(x, threshold)
            rows = [(np.concatenate([s, ds[a:b]]), np.concatenate([i, di[a:b]]))
                    for (s, i), (a, b) in zip(rows, itertools.pairwise(dl), strict=True)]  # fmt: skip
        out_lims = np.concatenate([[0], np.cumsum([len(i) for _, i in rows])]).astype(np.int64)
        if not rows:
            return out_lims, np.zeros(0, np.float32), np.zeros(0, np.int64)
        return out_lims, np.concatenate([s for s, _ in rows]), np.concatenate([i for _, i in rows])

    def tune(self, queries: np.ndarray, truth: np.ndarray, k: int = 10, target: float = 0.95) -> float:
        """The smallest nprobe (powers of two) whose recall@k against ``truth`` reaches ``target``."""

        def search_at(nprobe: int) -> np.ndarray:
            self.nprobe = nprobe
            return self.search(queries, k)[1]

        self.nprobe, recall = smallest_nprobe(search_at, self.ivf.nlist, np.asarray(truth)[:, :k], k, target)
        return recall

    def save(self, path: str | os.PathLike[str]) -> None:
        """The delta and the hidden ids, in one file written atomically (the big files never change)."""
        ids = self.delta.ids()
        vectors = self.delta.vectors()
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
            np.savez(f, ids=ids, vectors=vectors, hidden=self.hidden)

    @classmethod
    def load(cls, folder: Path, delta: Path, nprobe: int | None = None, index_type: str | None = None) -> ShardedIndex:
        """The big index in ``folder`` and, when the file exists, the delta saved in ``delta``."""
        index = cls(folder, nprobe or 16, index_type)
        if delta.is_file():
            try:
                with np.load(delta) as saved:
                    index.delta.add(saved["ids"], saved["vectors"])
                    index.hidden = np.asarray(saved["hidden"], np.int64)
            except (OSError, ValueError, KeyError) as err:
                raise IndexCorruptError(f"cannot read {delta}: {err}") from err
        return index
