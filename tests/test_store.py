"""Catalog and vector index always agree: after a crash, a failed save, or a second writer."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from clipsearch.config import IndexLocation
from clipsearch.errors import IndexLockedError, ModelMismatchError
from clipsearch.models.encoder import normalise
from clipsearch.models.registry import ModelInfo, ModelRef
from clipsearch.store.catalog import NewItem
from clipsearch.store.folder import IndexStore

DIM = 8
INFO = ModelInfo("fake", "none", "arch", DIM, 32, (0.5,) * 3, (0.5,) * 3, "bicubic", "shortest", 77)


def _item(i: int, rng) -> NewItem:
    return NewItem(
        path=f"/pics/{i}.jpg",
        page=0,
        size=100 + i,
        mtime_ns=i,
        content_hash=f"hash{i}",
        width=10,
        height=10,
        vector=normalise(rng.normal(size=DIM)),
    )


@pytest.fixture
def store(tmp_path):
    s = IndexStore.create(IndexLocation(tmp_path, "t"), INFO)
    yield s
    s.close()


def _reopen(store: IndexStore) -> IndexStore:
    return IndexStore.open(store.location)


def test_vectors_catch_up_after_a_crash_before_saving(store):
    rng = np.random.default_rng(0)
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(5)])
    store.vectors()
    store.save_vectors()
    # a later batch reaches the catalog, then the process dies before the FAISS file is written
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(5, 8)], remove=[1])
    reopened = _reopen(store)
    vi = reopened.vectors()
    ids = set(vi.ids().tolist())
    assert ids == {r.id for r in reopened.catalog.items()}
    assert vi.ntotal == 7
    reopened.close()


def test_replaying_changes_twice_never_duplicates(store):
    rng = np.random.default_rng(1)
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(4)])
    vi = store.vectors()
    removed, ids, vecs = store.catalog.changes_since(0, DIM)
    vi.apply(removed, ids, vecs)  # a crash between FAISS save and manifest update replays this
    vi.apply(removed, ids, vecs)
    assert vi.ntotal == 4 and len(set(vi.ids().tolist())) == 4


def test_search_finds_an_item_committed_after_the_last_save(store):
    rng = np.random.default_rng(2)
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(3)])
    store.vectors()
    store.save_vectors()
    target = _item(99, rng)
    store.catalog.commit_batch(add=[target])
    reader = _reopen(store)
    scores, ids = reader.vectors().search(target.vector[None], 1)
    assert reader.catalog.get([int(ids[0][0])])[int(ids[0][0])].path == "/pics/99.jpg"
    assert scores[0][0] == pytest.approx(1.0, abs=1e-5)
    reader.close()


def test_failed_save_leaves_the_previous_index_usable(store, monkeypatch):
    rng = np.random.default_rng(3)
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(3)])
    store.vectors()
    store.save_vectors()
    before = store.vectors_path.read_bytes()
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(3, 6)])
    store.vectors()

    import faiss

    real_write = faiss.write_index

    def full_disk(index, writer):
        real_write(faiss.IndexFlatIP(1), writer)  # some bytes reach the temporary file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full_disk)
    with pytest.raises(OSError):
        store.save_vectors()
    monkeypatch.undo()
    assert store.vectors_path.read_bytes() == before
    assert not [p for p in store.path.iterdir() if p.name.endswith(".tmp")]
    reopened = _reopen(store)
    assert reopened.vectors().ntotal == 6  # old file + catch-up from the catalog
    reopened.close()


def test_second_writer_is_told_who_holds_the_lock(store, tmp_path):
    code = (
        "import sys, time; from clipsearch.store.folder import IndexStore; from clipsearch.config import IndexLocation;"
        f"s = IndexStore.open(IndexLocation({str(tmp_path)!r}, 't')); s.acquire_lock(); print('locked', flush=True);"
        "time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLockedError, match=f"being updated by process {holder.pid}"):
            store.acquire_lock()
    finally:
        holder.kill()
        holder.wait()
    store.acquire_lock()  # the dead writer's lock is gone with it
    store.release_lock()


def test_model_mismatch_is_detected_from_the_manifest(store):
    store.check_model(ModelRef("fake", "none", "arch"))
    with pytest.raises(ModelMismatchError, match="--rebuild"):
        store.check_model(ModelRef("ViT-B-32-256", "datacomp_s34b_b86k", "arch"))


def test_corrupt_vector_file_is_rebuilt_from_the_catalog(store):
    rng = np.random.default_rng(4)
    store.catalog.commit_batch(add=[_item(i, rng) for i in range(4)])
    store.vectors()
    store.save_vectors()
    store.vectors_path.write_bytes(b"garbage")
    reopened = _reopen(store)
    assert reopened.vectors().ntotal == 4
    reopened.close()
    assert os.path.exists(store.path / "catalog.sqlite")


def test_a_writer_ending_does_not_refuse_the_next_but_one_writing_does(tmp_path):
    """The lock's holder writes its pid right after taking it and erases it just before letting go:
    a lock held with no pid is a writer starting or ending, waited for (briefly); one with a pid is
    a writer at work, and the next is refused at once, told which process."""
    import fcntl
    import threading
    import time

    from clipsearch.store.folder import LOCK, lock_folder

    location = IndexLocation(tmp_path, "t")
    location.path.mkdir(parents=True)
    other = os.open(location.path / LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # held, no pid written: a writer just ending
    threading.Timer(0.3, lambda: os.close(other)).start()
    started = time.monotonic()
    os.close(lock_folder(location))
    assert 0.2 < time.monotonic() - started < 2.0
    busy = os.open(location.path / LOCK, os.O_RDWR)
    fcntl.flock(busy, fcntl.LOCK_EX)
    os.ftruncate(busy, 0)
    os.pwrite(busy, b"4242", 0)  # a writer at work
    started = time.monotonic()
    with pytest.raises(IndexLockedError, match="process 4242"):
        lock_folder(location)
    assert time.monotonic() - started < 0.5
    os.close(busy)
