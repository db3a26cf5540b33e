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

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ClipsearchError, UsageError

#: Rows read from a shard at a time when adding: bounds a task's memory (512-d fp32: 100 MB).
CHUNK = 50_000
#: Training points per inverted list: FAISS's guidelines ask 30-256 x nlist; k-means on more costs
#: time (4096 lists x 40 x 512-d: ~35 s on 2 cores) for recall the tuned nprobe buys back anyway.
POINTS_PER_LIST = 40
INDEX_FILE = "populated.index"
LISTS_FILE = "lists.ivfdata"


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
    merge_ondisk(index, parts, str(folder / LISTS_FILE))
    faiss.write_index(index, str(folder / INDEX_FILE))
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


class ShardedIndex:
    """The merged index, memory-mapped, plus an in-memory delta for items added since the build."""

    def __init__(self, folder: Path, nprobe: int = 16) -> None:
        import faiss

        path = folder / INDEX_FILE
        if not path.is_file():
            raise ClipsearchError(f"no sharded index in {folder}")
        # the lists file is found beside the index file, whatever folder it was built in
        self.index = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR)
        self.ivf = faiss.extract_index_ivf(self.index)
        self.ivf.nprobe = nprobe
        self.delta = faiss.IndexIDMap2(faiss.IndexFlatIP(self.index.d))
        self.removed: set[int] = set()

    @property
    def nprobe(self) -> int:
        return int(self.ivf.nprobe)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal + self.delta.ntotal)

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        """New items, searchable at once (exact), until the next rebuild folds them in."""
        ids = np.asarray(list(ids), np.int64)
        self.removed.difference_update(ids.tolist())
        self.delta.add_with_ids(np.asarray(vectors, np.float32), ids)

    def remove(self, ids: Iterable[int]) -> None:
        """Items deleted since the build: filtered from results until the rebuild drops them."""
        ids = list(ids)
        self.removed.update(ids)
        self.delta.remove_ids(np.asarray(ids, np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(queries, np.float32)
        extra = len(self.removed) if self.removed else 0
        scores, ids = self.index.search(q, k + extra)
        if self.delta.ntotal:
            ds, di = self.delta.search(q, k)
            scores, ids = np.concatenate([scores, ds], 1), np.concatenate([ids, di], 1)
        if self.removed:
            gone = np.isin(ids, np.fromiter(self.removed, np.int64))
            scores = np.where(gone, -np.inf, scores)
        order = np.argsort(-scores, axis=1)[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)

    def tune(self, queries: np.ndarray, truth: np.ndarray, target: float = 0.95, k: int = 10) -> float:
        """The smallest nprobe (powers of two) whose recall@k against ``truth`` reaches ``target``."""
        from .vectors import smallest_nprobe

        def search_at(nprobe: int) -> np.ndarray:
            self.ivf.nprobe = nprobe
            return self.search(queries, k)[1]

        self.ivf.nprobe, recall = smallest_nprobe(search_at, self.ivf.nlist, np.asarray(truth)[:, :k], k, target)
        return recall
