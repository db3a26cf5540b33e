"""Crash safety and concurrency, with real processes: SIGKILL mid-run, search during a run, two writers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipsearch import Index
from tests.helpers import EXE, make_folder, wait_for


def _start(home: Path, folder: Path, tiny_model, *extra: str) -> subprocess.Popen:
    args = [EXE, "index", str(folder), *tiny_model.args, "--batch-size", "1", "--commit-every", "1"]
    args += ["--workers", "1", "--json", *extra]
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none"}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _items_in_catalog(home: Path) -> int:
    db = home / "default" / "catalog.sqlite"
    if not db.exists():
        return -1
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return -1


def _check(home: Path, *extra: str) -> dict:
    env = {**os.environ, "CLIPSEARCH_HOME": str(home)}
    proc = subprocess.run([EXE, "check", "--json", *extra], env=env, capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)


def test_sigkill_at_several_moments_then_check_and_resume(tmp_path, tiny_model):
    # 60 files, the last kill at 30: room for the kill to land mid-run even when the poller is slow
    # to see the count on a busy 2-core machine (with 40, a CI run once saw the run finish first).
    n = 60
    folder = make_folder(tmp_path / "pics", n)
    home = tmp_path / "home"
    killed_at = []
    for target in (0, 5, 18, 30):  # 0: right after the index folder appears, before any item
        proc = _start(home, folder, tiny_model)
        if target == 0:
            ok = wait_for(lambda: (home / "default" / "manifest.json").exists(), proc)
        else:
            ok = wait_for(lambda t=target: _items_in_catalog(home) >= t, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not ok:
            continue  # finished before we could kill it: nothing to test at this moment
        killed_at.append(_items_in_catalog(home))
        report = _check(home)
        assert report["ok"], report  # catalog and vectors agree after the crash (with catch-up)
        assert report["duplicate_vectors_count"] == 0
    assert len(killed_at) >= 3, killed_at
    before = _items_in_catalog(home)
    assert 0 < before < n

    proc = _start(home, folder, tiny_model)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    final = json.loads(out)
    assert final["items"] == n
    assert final["embedded"] == n - before  # work done before the crashes was kept
    report = _check(home)
    assert report["ok"] and report["items"] == report["vectors"] == n


def test_search_during_indexing_and_a_second_writer(tmp_path, tiny_model, cli):
    folder = make_folder(tmp_path / "pics", 40)
    home = cli.home
    proc = _start(home, folder, tiny_model)
    try:
        assert wait_for(lambda: _items_in_catalog(home) >= 2, proc)
        second = cli("index", str(folder), ok=False)
        assert second.exit_code == 6
        assert f"being updated by process {proc.pid}" in second.stderr
        searches = 0
        while proc.poll() is None and searches < 50:
            with Index.open(home=home) as ix:
                count = ix.store.catalog.count()
                hits = ix.store.vectors().ntotal
                results = ix.searcher.similar(str(folder / "img000.png"), k=100)
            assert hits >= count  # a reader sees every committed item in the vector index
            assert {r.path for r in results} <= {str(p) for p in folder.iterdir()}
            searches += 1
        assert searches > 0
    finally:
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _check(home)["ok"]


def test_check_finds_and_repairs_damage(tmp_path, tiny_model, cli, photos):
    cli.json("index", str(photos), *tiny_model.args)
    home = cli.home
    assert _check(home)["ok"]
    with Index.open(home=home) as ix:  # an orphan vector in the FAISS file
        store = ix.store
        vi = store.vectors()
        vi.add(np.array([9999]), np.ones((1, store.model.dim), np.float32) / np.sqrt(store.model.dim))
        store.save_vectors()
    with sqlite3.connect(home / "default" / "catalog.sqlite") as conn:  # a damaged stored vector
        conn.execute("UPDATE items SET vector = x'00ff' WHERE path LIKE '%coffee.png'")
    (photos / "photos" / "horse.png").unlink()  # a file gone behind our back

    result = cli("check", "--json", ok=False)
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert not found["ok"]
    assert found["orphan_vectors"] == [9999]
    assert found["bad_stored_vectors_count"] == 1
    assert [Path(p).name for p in found["missing_files"]] == ["horse.png"]
    table = cli("check", ok=False).stdout
    assert "missing files: 1" in table and "horse.png" in table  # named, for the person who can bring it back
    shown = [Path(r["path"]).name for r in cli.json("search", "a horse", "-k", "8")]
    assert "horse.png" not in shown and len(shown) == 8  # a file gone is not a result, the others fill in

    repaired = cli.json("check", "--repair")
    assert repaired["ok"], repaired
    assert repaired["repaired"]["re_embedded"] == 1
    assert repaired["repaired"]["dropped_missing_files"] == 1
    assert repaired["items"] == repaired["vectors"] == 8
    top = cli.json("similar", str(photos / "photos" / "coffee.png"), "-k", "8")
    assert len(top) == 7  # coffee is indexed again (re-embedded) and left out of its own results


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files whatever their mode")
def test_unreadable_file_is_skipped(tmp_path, tiny_model, cli, photos):
    locked = photos / "photos" / "horse.png"
    locked.chmod(0)
    report = cli.json("index", str(photos), *tiny_model.args)
    assert any(s["path"] == str(locked) and "permission" in s["reason"] for s in report["skipped_files"])
