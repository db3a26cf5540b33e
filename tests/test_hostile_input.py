"""Odd and hostile files: each is indexed correctly or skipped with a reason, and the run goes on."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from clipsearch.errors import ImageLoadError
from clipsearch.ingest.decode import prepare
from clipsearch.ingest.images import load_image
from clipsearch.ingest.options import IndexOptions
from clipsearch.ingest.scan import FoundFile

CORPUS = Path(__file__).parent / "corpus"


def _hostile_folder(root: Path) -> dict[str, str]:
    """Make the files; return name -> expected outcome ('indexed' or a reason fragment)."""
    root.mkdir()
    good = (CORPUS / "photos" / "rocket.jpg").read_bytes()
    expect: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (root / name).write_bytes(data)
        expect[name] = outcome

    put("truncated.jpg", good[: len(good) // 2], "cannot decode")
    put("zero.jpg", b"", "empty file")
    put("page.jpg", b"<!doctype html><html><body>hi</body></html>", "not a recognised image")
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000)).save(bomb, "PNG")  # 900 MP declared, a few hundred KB on disk
    put("bomb.png", bomb.getvalue(), "too large")
    deep = io.BytesIO()
    Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).save(deep, "PNG")
    put("sixteen-bit.png", deep.getvalue(), "indexed")
    cmyk = io.BytesIO()
    Image.new("CMYK", (50, 40), (0, 200, 200, 0)).save(cmyk, "JPEG")
    put("cmyk.jpg", cmyk.getvalue(), "indexed")
    pal = io.BytesIO()
    Image.new("P", (30, 30), 3).save(pal, "PNG", transparency=3)
    put("palette-transparent.png", pal.getvalue(), "indexed")
    anim = io.BytesIO()
    frames = [Image.new("RGB", (20, 20), c) for c in ("red", "blue", "green")]
    frames[0].save(anim, "GIF", save_all=True, append_images=frames[1:], loop=0)
    put("animated.gif", anim.getvalue(), "indexed")
    for odd in ["with space.jpg", 'it\'s "quoted".jpg', "new\nline.jpg", "-leading-dash.jpg", "ünïcødé.jpg"]:
        put(odd, good, "indexed")
    os.symlink(root / "missing-target.png", root / "broken-link.png")
    expect["broken-link.png"] = "broken symlink"
    os.symlink(root, root / "loop")  # a directory symlink back to its parent: not followed
    raw = os.fsencode(root) + b"/latin1-\xe9.jpg"
    with open(raw, "wb") as f:
        f.write(good)
    expect[os.fsdecode(b"latin1-\xe9.jpg")] = "not valid UTF-8"
    return expect


def test_hostile_folder_is_indexed_or_skipped_with_reasons(tmp_path, tiny_model, cli):
    folder = tmp_path / "hostile"
    expect = _hostile_folder(folder)
    result = cli("index", str(folder), *tiny_model.args, "--max-megapixels", "100", "--json")
    assert result.exit_code == 0
    import json

    report = json.loads(result.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    indexed = {Path(r["path"]).name for r in cli.json("search", "x", "-k", "100")}
    for name, outcome in expect.items():
        if outcome == "indexed":
            assert name in indexed, (name, skipped.get(name))
        else:
            assert outcome in skipped.get(name, ""), (name, skipped.get(name))
    assert len(indexed) == sum(v == "indexed" for v in expect.values())  # the loop added nothing twice
    assert "new\\nline.jpg" in cli("search", "x", "-k", "100").stdout  # one result per table line
    assert cli.json("status")["skipped"] == report["skipped"]  # what the run skipped, remembered
    again = json.loads(cli("index", str(folder), "--json").stdout)
    assert again["skipped"] == report["skipped"] and cli.json("status")["skipped"] == report["skipped"]


def test_a_file_that_vanishes_mid_run_is_skipped(tmp_path):
    gone = FoundFile(str(tmp_path / "gone.jpg"), 10, 0)
    prep = prepare(gone, frozenset(), None, IndexOptions())  # type: ignore[arg-type]
    assert prep.reason == "file vanished during the run"


_SEEDS = [CORPUS / "photos" / "horse.png", CORPUS / "photos" / "microaneurysms.png"]


def _small_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.open(CORPUS / "photos" / "rocket.jpg").resize((64, 48)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def _small_gif() -> bytes:
    buf = io.BytesIO()
    Image.open(CORPUS / "photos" / "horse.png").convert("P").resize((40, 40)).save(buf, "GIF")
    return buf.getvalue()


SEED_FILES = [p.read_bytes() for p in _SEEDS] + [_small_jpeg(), _small_gif()]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEED_FILES))),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_fuzzed_real_files_never_crash_the_loader(tmp_path_factory, seed, edits, cut):
    data = bytearray(SEED_FILES[seed])
    for where, byte in edits:
        data[min(int(where * len(data)), len(data) - 1)] = byte
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        image = load_image(io.BytesIO(bytes(data)), min_size=32, max_megapixels=20)
    except ImageLoadError as err:
        assert err.reason
    else:
        assert image.mode == "RGB" and image.width > 0 and image.height > 0


def test_copy_of_hostile_folder_reindexes_nothing(tmp_path, tiny_model, cli):
    folder = tmp_path / "hostile"
    _hostile_folder(folder)
    cli.json("index", str(folder), *tiny_model.args)
    again = cli.json("index", str(folder))
    assert again["embedded"] == 0 and again["added"] == 0
    shutil.rmtree(folder)
    gone = cli.json("index", str(tmp_path))
    assert gone["items"] == 0 and gone["removed"] > 0


def _peak_rss_mb(args: list[str], env: dict[str, str], out: Path) -> float:
    """Run ``clipsearch ARGS`` and return that process's own peak RSS (not other tests' children)."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "clipsearch"
    with open(out, "w") as stdout:
        proc = subprocess.Popen([str(exe), *args], env=env, stdout=stdout)
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024


def test_memory_stays_bounded_on_huge_images(tmp_path, tiny_model):
    """Eight 48 MP JPEGs (~144 MB each fully decoded) cost little more memory than one small image."""
    folder = tmp_path / "huge"
    folder.mkdir()
    small = Image.open(CORPUS / "photos" / "astronaut.png").convert("RGB")
    small.save(tmp_path / "one.png")
    big = small.resize((8000, 6000), Image.Resampling.BILINEAR)
    for i in range(8):
        big.save(folder / f"huge{i}.jpg", quality=80)
    env = {**os.environ, "CLIPSEARCH_HOME": str(tmp_path / "home")}
    base = _peak_rss_mb(["index", str(tmp_path / "one.png"), *tiny_model.args, "--index", "base"], env,
                        tmp_path / "base.json")  # fmt: skip
    peak = _peak_rss_mb(["index", str(folder), *tiny_model.args, "--json"], env, tmp_path / "out.json")
    assert '"items": 8' in (tmp_path / "out.json").read_text()
    print(f"peak RSS: one small image {base:.0f} MB, eight 48 MP JPEGs {peak:.0f} MB")
    assert peak - base < 250, f"{peak - base:.0f} MB more than for one small image"


def test_enormous_pdf_is_bounded_by_max_pages(tmp_path, tiny_model, cli):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    for _ in range(600):
        doc.new_page(595, 842)
    (tmp_path / "docs").mkdir()
    doc.save(str(tmp_path / "docs" / "huge.pdf"))
    doc.close()
    report = cli.json("index", str(tmp_path / "docs"), *tiny_model.args, "--max-pages", "50")
    assert report["items"] == 50 and report["added"] == 1
