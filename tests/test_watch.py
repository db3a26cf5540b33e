"""`clipsearch watch`: a real process, real file-system events, real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clipsearch.config import IndexLocation
from clipsearch.store.folder import IndexStore

CORPUS = Path(__file__).parent / "corpus"
EXE = str(Path(sys.executable).parent / "clipsearch")


def _start(home: Path, folder: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none"}
    args = [EXE, "watch", str(folder), "--model", "tiny-shapes", "--json", "--quiet-for", "0.3", *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return json.loads(line)


def _items(home: Path) -> dict[str, int]:
    """path -> item id, as a reader sees the index now."""
    store = IndexStore.open(IndexLocation(home, "default"))
    try:
        return {row.path: row.id for row in store.catalog.items()}
    finally:
        store.close()


def _until(predicate, timeout: float = 20.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError("the index did not follow the change in time")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pictures"
    root.mkdir()
    shutil.copy(CORPUS / "photos" / "rocket.jpg", root / "rocket.jpg")
    return root


def test_added_changed_renamed_and_deleted_files_follow_within_seconds(tmp_path, folder):
    home = tmp_path / "home"
    proc = _start(home, folder)
    try:
        assert _report(proc)["added"] == 1  # the catch-up run
        # a second writer is refused while the watch holds the lock
        other = subprocess.run([EXE, "index", str(folder)], env={**os.environ, "CLIPSEARCH_HOME": str(home)},
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert other.returncode == 6 and "being updated" in other.stderr

        new = folder / "sub" / "coffee.png"
        new.parent.mkdir()
        shutil.copy(CORPUS / "photos" / "coffee.png", new)  # written, then closed
        took = _until(lambda: str(new) in _items(home))
        assert took < 10, took
        first_id = _items(home)[str(new)]

        shutil.copy(CORPUS / "photos" / "astronaut.png", new)  # changed in place
        _until(lambda: _report(proc)["updated"] == 1)
        assert _items(home)[str(new)] == first_id  # re-embedded in place

        moved = folder / "renamed.png"
        new.rename(moved)
        _until(lambda: str(moved) in _items(home) and str(new) not in _items(home))
        assert _items(home)[str(moved)] == first_id  # a move keeps the item (and its vector)

        (folder / "rocket.jpg").unlink()
        _until(lambda: str(folder / "rocket.jpg") not in _items(home))
        assert set(_items(home)) == {str(moved)}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped watching" in err and "Traceback" not in err


def test_a_killed_watch_catches_up_when_restarted(tmp_path, folder):
    home = tmp_path / "home"
    proc = _start(home, folder)
    assert _report(proc)["added"] == 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # while nothing watches: one file added, one deleted
    shutil.copy(CORPUS / "photos" / "chelsea.png", folder / "cat.png")
    (folder / "rocket.jpg").unlink()
    proc = _start(home, folder)
    try:
        catch_up = _report(proc)
        assert (catch_up["added"], catch_up["removed"]) == (1, 1)
        assert set(_items(home)) == {str(folder / "cat.png")}
        shutil.copy(CORPUS / "photos" / "horse.png", folder / "horse.png")  # and it watches again
        _until(lambda: str(folder / "horse.png") in _items(home))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    check = subprocess.run([EXE, "check", "--json"], env={**os.environ, "CLIPSEARCH_HOME": str(home)},
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert json.loads(check.stdout)["ok"]


def test_a_file_still_being_written_is_indexed_once_complete(tmp_path, folder):
    home = tmp_path / "home"
    proc = _start(home, folder)
    try:
        _report(proc)
        data = (CORPUS / "photos" / "astronaut.png").read_bytes()
        target = folder / "slow.png"
        with open(target, "wb") as f:  # written in pieces over ~1.5 s, longer than the quiet period
            for i in range(0, len(data), len(data) // 6 + 1):
                f.write(data[i : i + len(data) // 6 + 1])
                f.flush()
                time.sleep(0.25)
        _until(lambda: str(target) in _items(home))
        time.sleep(1.0)  # any later run would show here
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    runs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert sum(r["skipped"] for r in runs) == 0  # never indexed half-written (it would not decode)
    assert sum(r["added"] for r in runs) == 1


def test_serve_watch_keeps_the_served_index_current(tmp_path, folder):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none", "CLIPSEARCH_MODEL": "tiny-shapes"}
    proc = subprocess.Popen([EXE, "serve", "--watch", str(folder), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip

    def served() -> list[str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=a%20photo&k=10", timeout=5) as r:
                return [Path(hit["path"]).name for hit in json.loads(r.read())["results"]]
        except OSError:
            return []

    try:
        _until(lambda: served() == ["rocket.jpg"], timeout=60)  # created by the catch-up, then served
        shutil.copy(CORPUS / "photos" / "coffee.png", folder / "coffee.png")
        _until(lambda: sorted(served()) == ["coffee.png", "rocket.jpg"])
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_polling_where_events_do_not_arrive(tmp_path, folder):
    home = tmp_path / "home"
    proc = _start(home, folder, "--poll")
    try:
        _report(proc)
        shutil.copy(CORPUS / "photos" / "coffee.png", folder / "polled.png")
        assert _until(lambda: str(folder / "polled.png") in _items(home)) < 10
        (folder / "rocket.jpg").unlink()
        _until(lambda: str(folder / "rocket.jpg") not in _items(home))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_the_watch_skips_what_index_skips_and_nothing_more(tmp_path):
    """A library inside a hidden folder (~/.local/share/photos) is watched like any other; hidden and
    excluded folders inside it are passed over, as `index` passes them over."""
    folder = tmp_path / ".library" / "photos"
    folder.mkdir(parents=True)
    home = tmp_path / "home"
    proc = _start(home, folder, "--exclude", "drafts")
    try:
        _report(proc)
        for sub in ("drafts", ".cache"):
            (folder / sub).mkdir()
            shutil.copy(CORPUS / "photos" / "horse.png", folder / sub / "skip.png")
        shutil.copy(CORPUS / "photos" / "coffee.png", folder / "kept.png")
        _until(lambda: str(folder / "kept.png") in _items(home))
        time.sleep(1.0)  # a run for the skipped ones would have landed by now
        assert set(_items(home)) == {str(folder / "kept.png")}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
