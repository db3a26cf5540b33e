"""One FAISS index from shards: trained on a sample across all of them, shards added as Ray tasks,
merged on disk, served memory-mapped with a delta for new items; recall checked against exact."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from clipsearch.store.shards import INDEX_FILE, LISTS_FILE, Shard, ShardedIndex, build, sample

DIM = 64


def _clustered(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + 0.08 * rng.normal(size=(n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Shard], np.ndarray, np.ndarray]:
    """8 shards, each of its own region of the space (as shards by folder or date are): a sample of
    the first rows only would miss most of them."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("shards")
    out, all_ids, all_vecs = [], [], []
    for i in range(8):
        centres = rng.normal(size=(8, DIM)).astype(np.float32)
        vecs = _clustered(rng, 2500, centres)
        ids = np.arange(2500, dtype=np.int64) + 100_000 * (i + 1)  # the catalog's ids, not positions
        out.append(Shard.write(folder, f"part{i}", ids, vecs.astype(np.float16)))
        all_ids.append(ids)
        all_vecs.append(vecs.astype(np.float16).astype(np.float32))
    return out, np.concatenate(all_ids), np.concatenate(all_vecs)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, object_store_memory=100 * 2**20, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_the_training_sample_comes_from_every_shard(shards):
    parts, _, _ = shards
    points = sample(parts, 800)
    assert len(points) == 800
    firsts = [np.asarray(s.open()[1], np.float32) for s in parts]
    nearest = np.argmax(np.stack([(points @ f.T).max(1) for f in firsts]), axis=0)
    assert set(nearest.tolist()) == set(range(8))  # every shard's region is represented


def test_sharded_build_with_ray_finds_what_exact_search_finds(shards, ray_cluster, tmp_path):
    parts, ids, vectors = shards
    # Flat codes: recall measures the pipeline (sample, train, add, merge), not SQ8's rounding at 64-d
    report = build(parts, "IVF64,Flat", tmp_path / "big", parallel="auto")
    assert report.parallel == "ray" and report.n == len(ids) == 20_000
    moved = tmp_path / "served"  # the lists file is found beside the index wherever the folder goes
    shutil.move(tmp_path / "big", moved)
    index = ShardedIndex(moved)
    assert (moved / LISTS_FILE).stat().st_size > 5 * (moved / INDEX_FILE).stat().st_size
    rng = np.random.default_rng(1)
    queries = vectors[rng.choice(len(vectors), 100, replace=False)] + 0.02 * rng.normal(size=(100, DIM))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truth = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    recall = index.tune(queries[:50], truth[:50])
    _, found = index.search(queries[50:], 10)
    held_out = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth[50:], strict=True)])
    assert recall >= 0.95 and held_out >= 0.95, (recall, held_out, index.nprobe)
    assert index.nprobe < 64  # found without probing every list
    assert set(found.ravel()) <= set(ids.tolist())


def test_new_items_are_searchable_at_once_and_removed_ones_gone(shards, tmp_path):
    parts, ids, vectors = shards
    build(parts, "IVF32,SQ8", tmp_path / "big", parallel="none")
    index = ShardedIndex(tmp_path / "big", nprobe=32)
    new = np.random.default_rng(2).normal(size=(1, DIM)).astype(np.float32)
    new /= np.linalg.norm(new)
    index.add([9_999_999], new)
    assert index.ntotal == len(ids) + 1
    scores, found = index.search(new, 3)
    assert found[0, 0] == 9_999_999 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    victim = int(index.search(vectors[:1], 1)[1][0, 0])
    index.remove([victim, 9_999_999])
    assert victim not in index.search(vectors[:1], 5)[1][0]
    assert 9_999_999 not in index.search(new, 5)[1][0]
