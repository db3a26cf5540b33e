"""Two phases in one run: every picture searchable by meaning first, its text read after.

Real processes on real files: a reader during the text pass, a SIGKILL in it and the run after,
a picture OCR takes too long on; and the labels drawings print (turned a quarter, with ⌀) and
words OCR glues together, found by `search --text`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.helpers import DEJAVU, names, scan

EXE = str(Path(sys.executable).parent / "clipsearch")
CORPUS = Path(__file__).parent / "corpus"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "auto"}


def _json(home: Path, *args: str) -> object:
    done = subprocess.run([EXE, *args, "--json"], env=_env(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _drawings(folder: Path, n: int = 3) -> list[Path]:
    """``n`` corpus raster drawings: each takes the text pass seconds to read."""
    folder.mkdir(parents=True)
    pictures = sorted(p for p in (CORPUS / "drawings").iterdir() if p.suffix.lower() in (".jpg", ".png"))[:n]
    for picture in pictures:
        shutil.copy2(picture, folder / picture.name)
    return pictures


def _start(home: Path, folder: Path) -> subprocess.Popen:
    args = [EXE, "index", str(folder), "--model", "tiny-shapes", "--json"]
    return subprocess.Popen(args, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_searchable(home: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> dict:
    """Poll `status` until all ``n`` items are in; returns that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (home / "default" / "manifest.json").exists():
            done = subprocess.run([EXE, "status", "--json"], env=_env(home), capture_output=True, text=True)
            if done.returncode == 0 and json.loads(done.stdout)["items"] == n:
                return json.loads(done.stdout)
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.2)
    raise AssertionError("the items never became searchable")


def test_readers_find_every_picture_by_meaning_before_the_text_pass_ends(tmp_path):
    folder = tmp_path / "drawings"
    pictures = _drawings(folder)
    home = tmp_path / "home"
    proc = _start(home, folder)
    status = _wait_until_searchable(home, len(pictures), proc)
    assert status["waiting_for_text"] > 0  # phase two has not read them all yet
    hits = _json(home, "search", "a technical drawing", "-k", "10")
    assert sorted(names(hits)) == sorted(p.name for p in pictures)  # every picture, by meaning, now
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["text"]["read"] == len(pictures) and report["text"]["with_text"] == len(pictures)
    assert report["phases"]["embed_s"] < report["phases"]["text_s"]
    after = _json(home, "status")
    assert after["waiting_for_text"] == 0 and after["with_text"] == len(pictures)


def test_a_kill_in_the_text_pass_loses_no_vector_and_the_next_run_reads_the_rest(tmp_path):
    folder = tmp_path / "drawings"
    pictures = _drawings(folder)
    home = tmp_path / "home"
    proc = _start(home, folder)
    _wait_until_searchable(home, len(pictures), proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until at least one text is committed, but not all
        waiting = _json(home, "status")["waiting_for_text"]  # type: ignore[index]
        if 0 < waiting < len(pictures):
            break
        assert proc.poll() is None, "the run ended before it could be killed in its text pass"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = _json(home, "status")
    assert status["items"] == len(pictures) and 0 < status["waiting_for_text"] < len(pictures)  # type: ignore[index]
    assert _json(home, "check")["ok"]  # type: ignore[index]
    again = _json(home, "index", str(folder))
    assert again["embedded"] == 0 and again["added"] == 0  # type: ignore[index]  # nothing embedded twice
    assert again["text"]["read"] == status["waiting_for_text"]  # type: ignore[index]  # only what was left
    assert _json(home, "status")["waiting_for_text"] == 0  # type: ignore[index]
    third = _json(home, "index", str(folder))
    assert third["text"]["read"] == 0  # type: ignore[index]


def _drawing(path: Path) -> Path:
    """A generated drawing: a part outline with a horizontal, a vertical (turned 90°) and a
    diameter label, and a title block whose OCR loses its spaces."""
    page = Image.new("RGB", (1800, 1300), "white")
    draw = ImageDraw.Draw(page)
    face = ImageFont.truetype(str(DEJAVU), 40)
    draw.rectangle((300, 300, 1100, 900), outline="black", width=4)
    draw.line((300, 220, 1100, 220), fill="black", width=2)
    draw.text((620, 165), "125.40", font=face, fill="black")  # horizontal
    label = Image.new("RGB", (260, 60), "white")
    ImageDraw.Draw(label).text((10, 5), "48.25", font=face, fill="black")
    page.paste(label.rotate(90, expand=True), (1180, 450))  # vertical, read bottom to top
    draw.ellipse((600, 500, 800, 700), outline="black", width=4)
    draw.text((820, 560), "⌀12 H7", font=face, fill="black")
    draw.rectangle((1250, 1050, 1780, 1280), outline="black", width=3)
    draw.text((1270, 1080), "ALLDIMENSIONSINMM", font=ImageFont.truetype(str(DEJAVU), 28), fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path)
    return path


def test_turned_and_diameter_labels_and_glued_words_are_found(cli, tmp_path):
    _drawing(tmp_path / "d" / "bracket.png")
    scan(tmp_path / "d" / "other.png", ["Bracket 12 steel", "H7 fit", "Dimensions checked"])
    cli.ocr = "auto"
    report = cli.json("index", str(tmp_path / "d"), "--model", "tiny-shapes")
    assert report["text"]["with_text"] == 2
    for typed in ["125.40", "48.25", "Ø12H7"]:
        assert names(cli.json("search", "--text", typed)) == ["bracket.png"], typed
    for typed in ["⌀12 H7", "ø12 H7"]:  # both words are on the other scan too, but not side by side
        assert names(cli.json("search", "--text", typed))[0] == "bracket.png", typed
    assert "bracket.png" in names(cli.json("search", "--text", "DIMENSIONS"))  # inside ALLDIMENSIONSINMM
    assert names(cli.json("search", "--text", "MILLIMETERS")) == []  # nothing invented


def test_a_picture_that_takes_too_long_keeps_its_vector_and_its_reason(cli, tmp_path):
    scan(tmp_path / "quick.png", ["Part KX-77"], size=(500, 200))
    cli.ocr = "auto"
    first = cli.json("index", str(tmp_path), "--model", "tiny-shapes")  # the reader's first start, untimed
    assert first["text"]["with_text"] == 1
    # a drawing page takes seconds (read whole, then a quarter turned: make bench, ocr ms_per_page)
    shutil.copy2(CORPUS / "drawings" / "Gripper.jpg", tmp_path / "Gripper.jpg")
    report = cli.json("index", str(tmp_path), "--ocr-timeout", "1")
    assert report["added"] == 1 and report["text"]["unreadable"] == 1
    [why] = report["text"]["unreadable_files"]
    assert why["path"].endswith("Gripper.jpg") and "longer than 1 s" in why["reason"]
    status = cli.json("status")
    assert status["text_unreadable"] == 1 and status["waiting_for_text"] == 1  # waits for the next run
    assert "Gripper.jpg" in names(cli.json("search", "a drawing", "-k", "5"))  # its vector is kept
    assert names(cli.json("search", "--text", "KX-77")) == ["quick.png"]
    human = cli("status").stdout
    assert "1 unreadable" in human
    # out of time is not unreadable for good: the next runs try again, a bounded number of times
    for run in (2, 3):
        again = cli.json("index", str(tmp_path), "--ocr-timeout", "1")
        assert again["text"]["read"] == 1 and f"try {run} of 3" in again["text"]["unreadable_files"][0]["reason"]
    assert cli.json("index", str(tmp_path))["text"]["read"] == 0  # given up on until its bytes change
    assert cli.json("status")["waiting_for_text"] == 0


def test_a_picture_out_of_time_on_a_busy_machine_is_read_on_the_next_run(cli, tmp_path):
    scan(tmp_path / "quick.png", ["Part KX-77"], size=(500, 200))
    cli.ocr = "auto"
    cli.json("index", str(tmp_path), "--model", "tiny-shapes")  # the reader's first start, untimed
    shutil.copy2(CORPUS / "drawings" / "Gripper.jpg", tmp_path / "Gripper.jpg")
    assert cli.json("index", str(tmp_path), "--ocr-timeout", "1")["text"]["unreadable"] == 1
    assert cli.json("status")["waiting_for_text"] == 1
    later = cli.json("index", str(tmp_path))
    assert later["text"]["read"] == 1 and later["text"]["unreadable"] == 0 and later["text"]["with_text"] == 1
    assert cli.json("status")["text_unreadable"] == 0


def _draw_sign(picture: Image.Image) -> None:
    """A light sign with the part code KX-4471-B, its letters 60 px high, on a 1600 x 1200 picture."""
    draw = ImageDraw.Draw(picture)
    draw.rectangle((500, 500, 1000, 600), fill=(240, 240, 235))
    draw.text((520, 515), "KX-4471-B", font=ImageFont.truetype(str(DEJAVU), 60), fill=(15, 15, 15))


def test_the_text_pass_reads_the_file_only_of_pictures_whose_text_it_reads(cli, tmp_path, monkeypatch):
    """The gate looks at phase one's small copy: a photo without text is never read from disk again
    (a library on a network drive pays for each read), a photo with small print is."""
    import numpy as np

    from clipsearch.ingest import textpass

    rng = np.random.default_rng(3)
    for i in range(4):  # smooth photo-like pictures, 1600 px: no text anywhere
        small = rng.integers(40, 200, (6, 8, 3)).astype("uint8")
        Image.fromarray(small).resize((1600, 1200), Image.Resampling.BICUBIC).save(tmp_path / f"plain{i}.jpg")
    sign = Image.fromarray(rng.integers(90, 130, (6, 8, 3)).astype("uint8")).resize((1600, 1200))
    _draw_sign(sign)
    sign.save(tmp_path / "sign.jpg", quality=92)
    read: list[str] = []
    real = textpass.unchanged_bytes
    monkeypatch.setattr(textpass, "unchanged_bytes", lambda row: read.append(Path(row.path).name) or real(row))
    cli.ocr = "auto"
    report = cli.json("index", str(tmp_path), "--model", "tiny-shapes")
    assert report["added"] == 5 and report["text"]["read"] == 5
    assert read == ["sign.jpg"]
    assert names(cli.json("search", "--text", "KX-4471-B")) == ["sign.jpg"]


def test_a_file_changed_while_its_text_is_read_is_left_for_the_next_run(cli, tmp_path, monkeypatch):
    """Edited between the gate and the second decode: not marked unreadable, still waiting."""
    from clipsearch.ingest import textpass

    sign = Image.new("RGB", (1600, 1200), (100, 110, 105))
    _draw_sign(sign)
    sign.save(tmp_path / "sign.jpg", quality=92)

    def edited(row: object) -> bytes:
        raise textpass.FileChanged

    monkeypatch.setattr(textpass, "unchanged_bytes", edited)
    cli.ocr = "auto"
    report = cli.json("index", str(tmp_path), "--model", "tiny-shapes")
    assert report["text"]["changed"] == 1 and report["text"]["unreadable"] == 0
    assert cli.json("status")["waiting_for_text"] == 1


def test_a_damaged_small_copy_is_not_what_the_gate_reads(tmp_path):
    """Phase one's small copy cut short (a crash, a full disk) reads as none: the text pass goes to
    the file, never to a picture half grey, where the gate would find no text."""
    import numpy as np

    from clipsearch.ingest import gatecache

    picture = Image.new("RGB", (640, 480), (200, 30, 30))
    path = gatecache.path_for(tmp_path, "abc", 0)
    gatecache.save(picture, path)
    whole = gatecache.load(path)
    assert whole is not None and whole.shape == (360, 480, 3) and abs(int(np.median(whole[..., 2])) - 200) < 8
    path.write_bytes(path.read_bytes()[:-400])
    assert gatecache.load(path) is None
    path.write_bytes(b"\0" * 100)
    assert gatecache.load(path) is None
