#!/usr/bin/env python3
"""The sharded build (part of `make bench`): >= 2M synthetic clustered unit vectors (512-d) in >= 8
shards, trained on a sample across them, added as Ray tasks on a local cluster, merged on disk
and served memory-mapped (``clipsearch/store/shards.py``).

Reports build time (train / add / merge), peak RSS of the driver and the Ray workers together
(sampled every 0.2 s), index size on disk, recall@10 against exact search at the tuned nprobe on
held-out queries, and p50 search latency memory-mapped. `python tools/bench_shards.py [--n N]
[--shards S]`; prints one JSON object last.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_shards(folder: Path, n: int, shards: int, dim: int = 512, seed: int = 3):
    from clipsearch.store.shards import Shard

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(64, n // 500), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out, per = [], n // shards
    for i in range(shards):
        x = centres[rng.integers(0, len(centres), per)] + 0.06 * rng.normal(size=(per, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out.append(Shard.write(folder, f"shard{i:03d}", np.arange(per, dtype=np.int64) + i * per, x.astype(np.float16)))
    return out, centres


class PeakRss:
    """Peak resident memory of this process and its children (Ray's workers), sampled."""

    def __init__(self) -> None:
        import psutil

        self.me, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.me, *self.me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def stop(self) -> int:
        self._stop.set()
        return self.peak


def run(work: Path, n: int, shards: int, factory: str) -> dict:
    import ray

    from clipsearch.store.shards import ShardedIndex, build

    parts, _ = write_shards(work / "shards", n, shards)
    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
    try:
        rss = PeakRss()
        started = time.perf_counter()
        report = build(parts, factory, work / "index", parallel="ray")
        build_s = time.perf_counter() - started
        peak = rss.stop()
    finally:
        ray.shutdown()
    rng = np.random.default_rng(5)
    picks = rng.choice(n, 400, replace=False)
    base = np.concatenate([np.asarray(p.open()[1], np.float32) for p in parts])
    q = base[picks] + 0.03 * rng.normal(size=(400, base.shape[1])).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    scores = np.concatenate([q @ base[i : i + 200_000].T for i in range(0, n, 200_000)], axis=1)
    truth = np.argsort(-scores, axis=1)[:, :10]
    del scores, base
    index = ShardedIndex(work / "index")
    tuned = index.tune(q[:200], truth[:200])
    times, found = [], []
    for row in q[200:]:
        t0 = time.perf_counter()
        found.append(index.search(row[None], 10)[1][0])
        times.append(time.perf_counter() - t0)
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth[200:], strict=True)]))
    return {"n": n, "shards": shards, "factory": factory, "parallel": report.parallel, "build_s": round(build_s, 1),
            "train_s": report.train_s, "add_s": report.add_s, "merge_s": report.merge_s,
            "peak_rss_mb": round(peak / 2**20), "disk_mb": round(report.disk_bytes / 2**20),
            "float32_flat_mb": round(n * 512 * 4 / 2**20), "nprobe": index.nprobe,
            "tuning_recall_at_10": round(tuned, 4), "recall_at_10": round(recall, 4),
            "search_ms_p50": round(statistics.median(times) * 1000, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--factory", default="IVF4096,SQ8")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.n, args.shards, args.factory)))


if __name__ == "__main__":
    main()
