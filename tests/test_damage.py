"""Odd files that used to stop a run, damaged index files, a full disk, a read-only folder, kills.

Real files and real processes: each case is what a user met (issue #27), and what they now get:
the run goes on with a reason, damage is found by ``check`` and mended by ``check --repair``, and
every store error is one line with its exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipsearch.models.demo_shapes import generate_folder

EXE = str(Path(sys.executable).parent / "clipsearch")


def _run(home: Path, *args: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none"}
    return subprocess.run([*(wrap or []), EXE, *args], env=env, capture_output=True, text=True, timeout=300)


def _one_line(done: subprocess.CompletedProcess, code: int, words: str) -> None:
    """The command failed as a user should see it: exit ``code``, one line saying ``words``."""
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert words in lines[0], lines[0]


def _thin_pdf(path: Path) -> None:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    doc.new_page(2, 3000)  # 2 x 3000 pt: the longest-side resize used to round the width to 0
    doc.save(str(path))
    doc.close()


def _looping_pdf(path: Path) -> None:
    """A PDF whose page tree names itself as its own kid."""
    from clipsearch.query.dupeval import pdf_bytes

    path.write_bytes(pdf_bytes([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]))


def test_odd_files_never_stop_a_run_and_cost_bounded_memory(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    Image.new("RGB", (1, 20000), (10, 200, 30)).save(folder / "strip.png")  # the "shortest" resize: 4 GB
    Image.new("RGB", (20000, 1), (200, 10, 30)).save(folder / "wide-strip.png")
    _thin_pdf(folder / "thin.pdf")
    _looping_pdf(folder / "loop.pdf")
    Image.new("RGB", (64, 64), (0, 0, 255)).save(folder / "good.png")
    home = tmp_path / "home"
    base, _, _ = _measured(home, "index", str(folder / "good.png"), "--index", "base")  # the model's own cost
    peak, seconds, out = _measured(home, "index", str(folder), "--json")
    report = json.loads(out)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert set(skipped) == {"loop.pdf"} and "damaged page tree" in skipped["loop.pdf"]
    assert report["items"] == 4  # both strips letterboxed, the thin page, the good picture
    print(f"odd files: {seconds:.1f} s, peak RSS {peak:.0f} MB (one good picture: {base:.0f} MB)")
    assert peak - base < 400, f"{peak - base:.0f} MB more than for one picture"  # the strip alone took 4.2 GB
    assert seconds < 30


def _measured(home: Path, *args: str) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, stdout) of ``clipsearch ARGS`` with OCR on, as a new index has it."""
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "auto"}
    out, err = home.parent / "out.txt", home.parent / "err.txt"
    started = time.monotonic()
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([EXE, *args, "--model", "tiny-shapes"], env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, err.read_text()[-3000:]
    return usage.ru_maxrss / 1024, time.monotonic() - started, out.read_text()


def test_a_decoder_that_hangs_is_skipped_after_the_file_timeout(tmp_path, monkeypatch):
    """A file whose decoding never ends is skipped with that reason; the others are indexed, and
    the stuck thread (a daemon) does not hold the run."""
    from clipsearch import api
    from clipsearch.ingest import decode
    from clipsearch.ingest.options import IndexOptions

    generate_folder(tmp_path / "shapes", per_class=1, seed=3)
    stuck = sorted((tmp_path / "shapes").iterdir())[2]
    real = decode.read_and_decode
    release = threading.Event()

    def hangs(found, *args):  # type: ignore[no-untyped-def]
        if found.path == str(stuck):
            release.wait(60)
        return real(found, *args)

    monkeypatch.setattr(decode, "read_and_decode", hangs)
    started = time.monotonic()
    report = api.index([tmp_path / "shapes"], home=tmp_path / "home", model="tiny-shapes",
                       options=IndexOptions(ocr="none", file_timeout=1.0, workers=2))  # fmt: skip
    release.set()
    assert time.monotonic() - started < 30
    reasons = {s["path"]: s["reason"] for s in report.skipped_files}
    assert "took longer than 1 s to decode" in reasons[str(stuck)]
    assert report.added == len(list((tmp_path / "shapes").iterdir())) - 1


def test_a_pdf_past_max_pages_says_so(tmp_path, cli):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    for _ in range(30):
        doc.new_page(595, 842)
    (tmp_path / "docs").mkdir()
    doc.save(str(tmp_path / "docs" / "long.pdf"))
    doc.close()
    report = cli.json("index", str(tmp_path / "docs"), "--model", "tiny-shapes", "--max-pages", "10")
    assert report["items"] == 10
    assert report["partial_files"] == [
        {"path": str(tmp_path / "docs" / "long.pdf"), "note": "only the first 10 of 30 pages indexed (see --max-pages)"}
    ]
    human = cli("index", str(tmp_path / "docs"), "--rebuild", "--model", "tiny-shapes", "--max-pages", "10")
    assert "partly indexed" in human.stderr and "of 30 pages" in human.stderr


def _indexed(tmp_path: Path, per_class: int = 12) -> tuple[Path, Path]:
    folder = tmp_path / "shapes"
    generate_folder(folder, per_class=per_class, seed=1)
    home = tmp_path / "home"
    done = _run(home, "index", str(folder), "--model", "tiny-shapes", "--json")
    assert done.returncode == 0, done.stderr
    return folder, home


def test_a_truncated_catalog_is_one_line_everywhere_and_repaired_from_the_files(tmp_path):
    folder, home = _indexed(tmp_path, per_class=2)
    n = len(list(folder.iterdir()))
    catalog = home / "default" / "catalog.sqlite"
    os.truncate(catalog, catalog.stat().st_size // 2)
    for args in (["search", "a red circle"], ["status"], ["similar", str(next(folder.iterdir()))],
                 ["duplicates"], ["category", "list"]):  # fmt: skip
        _one_line(_run(home, *args), 5, "damaged")
    check = _run(home, "check", "--json")
    assert check.returncode == 1 and json.loads(check.stdout)["catalog_problems"]
    repaired = _run(home, "check", "--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    report = json.loads(repaired.stdout)
    assert report["ok"] and report["items"] == n
    assert report["salvaged"]["indexed_again"]["embedded"] > 0  # what the lost rows held came from the files
    assert Path(report["salvaged"]["damaged_copy"]).exists()
    hits = json.loads(_run(home, "search", "a red circle", "--json").stdout)
    assert hits and all(Path(h["path"]).parent == folder for h in hits)
    doctypes = json.loads(_run(home, "category", "list", "--json").stdout)
    assert "photo" in json.dumps(doctypes)  # the built-in categories are back
    assert _run(home, "index", str(folder), "--rebuild", "--model", "tiny-shapes").returncode == 0


def test_random_bytes_in_the_catalog_are_found_and_salvaged_keeping_categories(tmp_path):
    _, home = _indexed(tmp_path, per_class=4)
    assert _run(home, "category", "add", "round things", "--prompt", "a circle").returncode == 0
    before = json.loads(_run(home, "search", "a circle", "-k", "500", "--json").stdout)
    catalog = home / "default" / "catalog.sqlite"
    assert _run(home, "check").returncode == 0
    with open(catalog, "r+b") as f:  # a 4 KB page in the middle: SQLite's own checks see it
        f.seek((catalog.stat().st_size // 2) // 4096 * 4096)
        f.write(np.random.default_rng(7).bytes(4096))
    check = _run(home, "check", "--json")
    assert check.returncode == 1 and json.loads(check.stdout)["catalog_problems"]
    repaired = _run(home, "check", "--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    assert json.loads(repaired.stdout)["ok"]
    assert _run(home, "check", "--deep").returncode == 0
    after = json.loads(_run(home, "search", "a circle", "-k", "500", "--json").stdout)
    assert sorted(h["path"] for h in after) == sorted(h["path"] for h in before)
    assert "round things" in _run(home, "category", "list").stdout


def test_random_bytes_in_the_vector_file_are_refused_found_and_rebuilt(tmp_path):
    _, home = _indexed(tmp_path)
    before = json.loads(_run(home, "search", "a circle", "-k", "200", "--json").stdout)
    vectors = home / "default" / "vectors.faiss"
    with open(vectors, "r+b") as f:
        f.seek(vectors.stat().st_size // 2)
        f.write(np.random.default_rng(3).bytes(4096))
    searched = _run(home, "search", "a circle", "-k", "200", "--json")
    assert searched.returncode == 5 and "check --repair" in searched.stderr  # never a cosine of 1e38
    check = json.loads(_run(home, "check", "--json").stdout)
    assert not check["ok"] and check["damaged_index_vectors_count"] > 0
    deep = json.loads(_run(home, "check", "--deep", "--json").stdout)
    assert deep["damaged_index_vectors_count"] >= check["damaged_index_vectors_count"]
    assert _run(home, "check", "--repair").returncode == 0
    after = json.loads(_run(home, "search", "a circle", "-k", "200", "--json").stdout)
    assert [(h["path"], round(h["score"], 4)) for h in after] == [(h["path"], round(h["score"], 4)) for h in before]


def _mount_namespace() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt"], capture_output=True)
    return done.returncode == 0


needs_mounts = pytest.mark.skipif(not _mount_namespace(), reason="needs root and a private mount namespace")


@needs_mounts
def test_a_full_disk_is_one_line_and_keeps_what_was_committed(tmp_path):
    folder = tmp_path / "shapes"
    generate_folder(folder, per_class=30, seed=1)
    first = tmp_path / "first"
    first.mkdir()
    for picture in sorted(folder.iterdir())[:3]:
        shutil.copy2(picture, first / picture.name)
    home = tmp_path / "small"
    home.mkdir()
    script = (f"mount -t tmpfs -o size=700k none {home} && {EXE} index {first} --model tiny-shapes >/dev/null && "
              f"echo first=$? >&2 && {EXE} index {folder}; echo rc=$? >&2; "
              f"{EXE} check --json; echo check=$? >&2")  # fmt: skip
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none"}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lines[0] == "first=0", lines
    assert lines[1].startswith("clipsearch: error: disk full") and lines[2] == "rc=1", lines
    report = json.loads(done.stdout)
    assert report["ok"] and 3 <= report["items"] < 900 and lines[-1] == "check=0", lines  # the committed part holds


@needs_mounts
def test_a_read_only_index_is_searched_and_says_read_only_when_written(tmp_path):
    folder, home = _indexed(tmp_path, per_class=2)
    script = (f"mount --bind {home} {home} && mount -o remount,ro,bind {home} && "
              f"{EXE} search 'a red circle' --json && echo searched >&2; "
              f"{EXE} similar {next(folder.iterdir())} -k 2 --json >/dev/null && echo similar >&2; "
              f"{EXE} status --json >/dev/null && echo status >&2; "
              f"{EXE} index {folder}; echo index=$? >&2; "
              f"{EXE} category add dogs --prompt 'a dog'; echo category=$? >&2")  # fmt: skip
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none"}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert json.loads(done.stdout)
    lines = done.stderr.splitlines()
    assert lines[:3] == ["searched", "similar", "status"], lines
    refused = [line for line in lines if line.startswith("clipsearch: error:")]
    assert len(refused) == 2 and all("read-only" in line for line in refused), lines
    assert "index=8" in lines and "category=8" in lines


def test_commits_follow_time_as_well_as_count(tmp_path):
    """With the default commit size, a slow model still commits every few seconds: a reader (and a
    kill) sees the work of all but the last few seconds."""
    from clipsearch import api
    from clipsearch.config import IndexLocation
    from clipsearch.ingest.options import IndexOptions
    from clipsearch.models.runtimes import load_encoder
    from clipsearch.store.catalog import Catalog

    generate_folder(tmp_path / "shapes", per_class=6, seed=2)
    n = len(list((tmp_path / "shapes").iterdir()))

    class Slow:
        """The real encoder at ten pictures a second: a large model on a small CPU."""

        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.inner, name)

        def encode_images(self, batch):  # type: ignore[no-untyped-def]
            time.sleep(0.1 * len(batch))
            return self.inner.encode_images(batch)

    def slow_loader(ref, device):  # type: ignore[no-untyped-def]
        return Slow(load_encoder(ref, device or "cpu", runtime="onnx", precision="fp32"))

    options = IndexOptions(ocr="none", commit_seconds=1.0, batch_size=8)
    home = tmp_path / "home"
    run = threading.Thread(target=api.index, args=([tmp_path / "shapes"],),
                           kwargs={"home": home, "model": "tiny-shapes", "options": options,
                                   "loader": slow_loader})  # fmt: skip
    run.start()
    seen = 0
    deadline = time.monotonic() + 60
    catalog_file = IndexLocation(home, "default").path / "catalog.sqlite"
    while run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.5)
        if catalog_file.exists():
            catalog = Catalog(catalog_file, migrate=False)
            try:
                seen = max(seen, catalog.count())
            except Exception:
                pass
            finally:
                catalog.close()
        if 0 < seen < n:
            break
    run.join()
    assert 0 < seen < n, (seen, n)  # committed while the run still had work to do


def test_flat_pictures_are_no_perceptual_duplicates(tmp_path, cli):
    folder = tmp_path / "flat"
    folder.mkdir()
    for i, (colour, size) in enumerate([((0, 0, 0), (300, 200)), ((0, 0, 255), (120, 90)), ((0, 200, 0), (640, 480)),
                                        ((255, 0, 0), (90, 90)), ((255, 255, 255), (800, 600)),
                                        ((250, 250, 250), (100, 300))]):  # fmt: skip
        Image.new("RGB", size, colour).save(folder / f"flat{i}.png")
    shutil.copy2(folder / "flat2.png", folder / "flat2-copy.png")
    cli.json("index", str(folder), "--model", "tiny-shapes")
    groups = cli.json("duplicates", "--by", "exact", "--by", "perceptual")
    assert [sorted(Path(m["path"]).name for m in g["items"]) for g in groups] == [["flat2-copy.png", "flat2.png"]]


def test_dates_that_do_not_exist_are_refused_plainly(tmp_path, cli, make_jpeg):
    from clipsearch.errors import UsageError
    from clipsearch.query.syntax import parse

    for line, said in [("a after:2023-02-31", "no such date: after:2023-02-31"),
                       ("a before:2023-13", "no such date: before:2023-13")]:  # fmt: skip
        with pytest.raises(UsageError, match=said):  # the search box of the web page
            parse(line)
    assert parse("a after:2024-02-29").filters.after == "2024-02-29"  # a leap day is a date
    make_jpeg(tmp_path / "p" / "a.jpg")
    cli.json("index", str(tmp_path / "p"), "--model", "tiny-shapes")
    result = cli("search", "a", "--after", "2023-02-29", ok=False)
    assert result.exit_code == 2 and "no such date: --after 2023-02-29" in result.stderr, result.stderr
    assert cli("search", "a", "--after", "2024-02-29").exit_code == 0


def test_damaged_tile_vectors_are_found_and_repaired(tmp_path, cli):
    """Tile rows set huge, NaN, cut short or deleted: `check` reports those items, `check --repair`
    drops their tiles (their pages are still found whole), and a search by a part of a picture
    never scores past 1 again."""
    import sqlite3

    generate_folder(tmp_path / "shapes", per_class=1, seed=5)
    cli.json("index", str(tmp_path / "shapes"), "--model", "tiny-shapes", "--region", "tiles", "--region-scope", "all")
    catalog = cli.home / "default" / "catalog.sqlite"
    with sqlite3.connect(catalog) as conn:
        items = [r[0] for r in conn.execute("SELECT DISTINCT item_id FROM regions ORDER BY item_id LIMIT 4")]
        dim = len(conn.execute("SELECT vector FROM regions LIMIT 1").fetchone()[0]) // 4
        huge, nan = np.full(dim, 1e30, np.float32).tobytes(), np.full(dim, np.nan, np.float32).tobytes()
        for item, blob in zip(items[:3], (huge, nan, b"abc"), strict=True):
            conn.execute("UPDATE regions SET vector = ? WHERE item_id = ? AND region = 'tile:11'", (blob, item))
        conn.execute("DELETE FROM regions WHERE item_id = ? AND region = 'tile:00'", (items[3],))
    found = cli("check", "--json", ok=False)
    assert found.exit_code == 1
    report = json.loads(found.stdout)
    assert sorted(report["bad_region_vectors"]) == sorted(items), report
    repaired = cli.json("check", "--repair")
    assert repaired["ok"] and repaired["repaired"]["dropped_bad_region_vectors"] == 4
    picture = next((tmp_path / "shapes").glob("*.png"))
    hits = cli.json("similar", str(picture), "--box", "0,0,0.5,0.5", "-k", "5")
    assert hits and all(h["score"] <= 1.001 for h in hits)


def test_a_reader_that_closes_the_pipe_early_gets_silence(tmp_path, cli):
    """`clipsearch search ... | head -1`: the closed pipe is the reader's choice, not an error:
    no message, exit 0."""
    import fcntl

    generate_folder(tmp_path / "shapes", per_class=2, seed=6)
    cli.json("index", str(tmp_path / "shapes"), "--model", "tiny-shapes")
    for args in (["search", "a red circle", "-k", "60"], ["map"], ["status"]):
        read, write = os.pipe()
        fcntl.fcntl(write, 1031, 4096)  # F_SETPIPE_SZ: a small pipe, so the output outgrows it
        env = {**os.environ, "CLIPSEARCH_HOME": str(cli.home), "CLIPSEARCH_OCR": "none"}
        proc = subprocess.Popen([EXE, *args], stdout=write, stderr=subprocess.PIPE, env=env, text=True)
        os.close(write)
        with os.fdopen(read) as out:
            out.readline()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "Traceback" not in err and "Broken pipe" not in err, (args, err)
