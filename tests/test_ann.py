"""Approximate vector search chosen by collection size: trained, tuned, kept correct under change."""

from __future__ import annotations

import numpy as np
import pytest

from clipsearch.config import IndexLocation
from clipsearch.ingest.check import check_index
from clipsearch.models.encoder import normalise
from clipsearch.models.registry import ModelInfo
from clipsearch.store import folder, shards, vectors
from clipsearch.store.folder import IndexStore
from tools.samples import synthetic_item

DIM = 16
INFO = ModelInfo("fake", "none", "arch", DIM, 32, (0.5,) * 3, (0.5,) * 3, "bicubic", "shortest", 77)


def _clustered(n: int, seed: int, centres: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = normalise(rng.normal(size=(centres, DIM)))
    return normalise(c[rng.integers(0, centres, n)] + 0.35 * rng.normal(size=(n, DIM)))


def _add(store: IndexStore, vecs: np.ndarray, start: int) -> None:
    items = [synthetic_item(f"/v/{start + i}.jpg", v) for i, v in enumerate(vecs)]
    store.catalog.commit_batch(add=items)


def _recall(store: IndexStore, queries: np.ndarray, k: int = 10) -> float:
    ids = np.concatenate([i for i, _ in store.catalog.all_vectors(DIM)])
    allv = np.concatenate([v for _, v in store.catalog.all_vectors(DIM)])
    truth = ids[np.argsort(-(queries @ allv.T), axis=1)[:, :k]]
    _, found = store.vectors().search(queries, k)
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))


def test_choice_by_size_is_always_trainable():
    assert vectors.choose_index_type(99_999) == "IDMap2,Flat"
    assert vectors.choose_index_type(100_000) == "IVF1024,SQ8"
    assert vectors.choose_index_type(9_999_999) == "IVF16384,SQ8"
    assert vectors.choose_index_type(10_000_000) == "sharded:IVF16384,SQ8"  # built from shards, served from disk


def test_auto_switches_to_ivf_tunes_and_stays_correct(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "FLAT_LIMIT", 2_000)
    store = IndexStore.create(IndexLocation(tmp_path, "ann"), INFO)
    _add(store, _clustered(1_500, 1), 0)
    assert store.optimise() is None  # still below the limit: exact
    _add(store, _clustered(2_500, 2), 1_500)
    new_type = store.optimise()
    assert new_type is not None and new_type.startswith("IVF") and new_type.endswith(",SQ8")
    info = store.manifest.vectors_info()
    assert info["tuned_recall_at_10"] >= 0.95 and info["nprobe"] >= 1
    queries = _clustered(100, 9)
    assert _recall(store, queries) >= 0.9  # fresh queries, not the tuning set
    report = check_index(store)  # not ok overall (the files are fake), but vectors and catalog agree
    assert not report.missing_vectors and not report.orphan_vectors and not report.duplicate_vectors

    # deletions and growth go through the IVF index by catch-up, from a reader's point of view too
    gone = list(range(1, 201))
    store.catalog.commit_batch(remove=gone)
    _add(store, _clustered(300, 3), 4_000)
    reader = IndexStore.open(store.location)
    vi = reader.vectors()
    held = set(vi.ids().tolist())
    assert not held & set(gone) and len(held) == reader.catalog.count() == 4_100
    assert vi.nprobe == info["nprobe"]  # the tuned parameter travels with the file
    _, found = vi.search(_clustered(20, 4), 10)
    assert not set(found.ravel().tolist()) & set(gone)
    reader.close()

    # most items deleted: a rebuild (e.g. check --repair) cannot train IVF any more and falls back to exact
    store.catalog.commit_batch(remove=list(range(201, 4_301)))
    assert store.rebuild_vectors().index_type == "IDMap2,Flat"
    store.close()


def test_requested_type_too_big_to_train_stays_exact(cli, tiny_model, photos):
    cli.json("index", str(photos), *tiny_model.args, "--index-type", "IVF64,SQ8")
    status = cli.json("status")
    assert status["index_type"] == "IDMap2,Flat" and status["index_type_requested"] == "IVF64,SQ8"
    bad = cli("index", str(photos), "--index-type", "NoSuchIndex", ok=False)
    assert bad.exit_code == 2 and "--index-type" in bad.stderr


@pytest.mark.parametrize("n", [5_000])
def test_explicit_ivf_on_a_trainable_collection(tmp_path, n):
    store = IndexStore.create(IndexLocation(tmp_path, "ivf"), INFO, "IVF32,Flat")
    _add(store, _clustered(n, 5), 0)
    assert store.optimise() == "IVF32,Flat"
    assert store.status()["index_type"] == "IVF32,Flat"
    assert _recall(store, _clustered(50, 6)) >= 0.9
    store.close()


def test_ivf_trains_its_kmeans_on_the_gpus_faiss_reports(tmp_path, monkeypatch):
    """With faiss-gpu and a GPU, k-means runs on an index from ``index_cpu_to_all_gpus``; a plain
    CPU index stands in for the GPU one here (no GPU on CI), so this checks the wiring and that the
    result is an ordinary, portable, correct index, not GPU speed."""
    import faiss

    handed_out = []

    def to_gpus(index):
        handed_out.append(index)
        return index

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", to_gpus, raising=False)
    store = IndexStore.create(IndexLocation(tmp_path, "gpu"), INFO, "IVF32,Flat")
    _add(store, _clustered(5_000, 5), 0)
    assert store.optimise() == "IVF32,Flat"
    assert len(handed_out) == 1 and handed_out[0].ntotal == 32  # the centroids were found with it
    assert vectors.ivf_of(store.vectors().index).clustering_index is None  # nothing dangling
    assert _recall(store, _clustered(50, 6)) >= 0.9
    store.close()
    reopened = IndexStore.open(IndexLocation(tmp_path, "gpu"))  # the saved file reads back on a CPU
    assert reopened.vectors().ntotal == 5_000
    reopened.close()


def test_a_sharded_index_folder_keeps_up_through_its_delta_and_folds_it_in(tmp_path, monkeypatch, capfd):
    """Past SHARDED_FROM the folder's vectors are an IVF built from shards of the catalog, served
    from disk; later changes go to the delta, survive a reopen, and a big delta is folded in."""
    monkeypatch.setattr(vectors, "FLAT_LIMIT", 2_000)
    monkeypatch.setattr(vectors, "SHARDED_FROM", 3_000)
    monkeypatch.setattr(shards, "SHARD_ROWS", 1_000)  # four shards
    store = IndexStore.create(IndexLocation(tmp_path, "big"), INFO)
    _add(store, _clustered(4_000, 1), 0)
    store.vectors()
    assert store.optimise() == "sharded:IVF64,SQ8"
    info = store.manifest.vectors_info()
    built = store.path / info["sharded"]
    assert (built / shards.LISTS_FILE).is_file() and not (store.path / "vectors.faiss").exists()
    assert not (built / ".shards").exists()  # the shards written from the catalog are gone after the build
    assert info["tuned_recall_at_10"] >= 0.95 and _recall(store, _clustered(100, 9)) >= 0.9

    gone = list(range(1, 101))
    store.catalog.commit_batch(remove=gone)
    fresh = normalise(np.random.default_rng(3).normal(size=DIM))
    store.catalog.commit_batch(
        replace=[
            (
                500,
                synthetic_item("/v/499.jpg", fresh, mtime_ns=2, content_hash="new"),
            )
        ]
    )
    _add(store, _clustered(250, 4), 4_000)
    vi = store.vectors()
    assert isinstance(vi, shards.ShardedIndex) and vi.delta.ntotal == 251
    held = vi.ids()
    assert len(held) == len(set(held.tolist())) == store.catalog.count() == vi.ntotal == 4_150
    assert not set(held.tolist()) & set(gone)
    scores, found = vi.search(fresh[None], 5)
    assert found[0, 0] == 500 and scores[0, 0] == pytest.approx(1.0, abs=1e-4) and list(found[0]).count(500) == 1
    allowed = np.array([500, 4_001, 4_002, 700], np.int64)  # two in the delta, 500 re-embedded, 700 built
    assert set(vi.search(fresh[None], 10, allow=allowed)[1][0].tolist()) - {-1} == set(allowed.tolist())
    lims, _, near = vi.range_search(fresh[None], 0.999)
    assert near[lims[0] : lims[1]].tolist() == [500]  # the duplicates' range search sees the new copy only
    store.save_vectors()

    reader = IndexStore.open(store.location)  # another process: the delta file and the catch-up agree
    again = reader.vectors()
    assert sorted(again.ids().tolist()) == sorted(held.tolist())
    assert again.search(fresh[None], 5)[1].tolist() == found.tolist()
    report = check_index(reader)
    assert not report.missing_vectors and not report.orphan_vectors and not report.duplicate_vectors
    reader.close()

    monkeypatch.setattr(folder, "DELTA_MAX", 100)  # 251 in the delta > 5% of 4,150: fold it in
    assert store.optimise() == "sharded:IVF64,SQ8"
    refolded = store.manifest.sharded
    assert refolded != built.name
    assert not built.exists() and store.vectors().delta.ntotal == 0
    assert _recall(store, _clustered(50, 8)) >= 0.9
    store.close()
    assert capfd.readouterr().out == ""  # FAISS's on-disk messages never reach stdout (--json is there)


def test_a_sharded_type_must_be_an_ivf(cli, photos):
    bad = cli("index", str(photos), "--model", "tiny-shapes", "--index-type", "sharded:Flat", ok=False)
    assert bad.exit_code == 2 and "sharded:IVF4096,SQ8" in bad.stderr
