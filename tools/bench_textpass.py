"""`make bench`, the text pass: a default `index` (OCR on) against `--ocr none` and rclip, on the
same photos, in one run; and what the text pass costs per picture, stage by stage.

The photos are tools/bench.py's ~12 MP photo-like JPEGs (ViT-B-32-256, random weights: the cost of
pretrained ones); every 20th carries a sign with a part code, so 8 of 160 hold text.

- ocr_none_s: `index --ocr none`, process start to exit (rclip reads no text either);
- default_searchable_s: the default `index`, process start until every photo is committed with
  its vector (the whole run less its text pass, ``index --json``'s ``phases``); default_total_s: to
  exit, text included; their ratios to ocr_none_s (targets: <= 1.3 and <= 2.0);
- rclip_s and default_vs_rclip: rclip 4.0.8 on the same folder (tools/rclip_ref.py; target >= 1.5);
- codes_found: the signs' codes found by `search --text`, on their own photo;
- small_pictures: 30 tiny-shapes pictures (64-160 px shapes on white, as icons and clip-art are)
  through a default `index`: its text pass in seconds and ms a picture (a small picture on white is
  no page, so only its gate's lines are read);
- stages_ms: per photo without text (the gate's copy read, the gate), per sign photo (its crops
  read); a drawing page's reading is tools/bench_ocr.py's ms_per_page.

Run alone: ``python tools/bench_textpass.py [--photos 160] [--rounds 2] [--no-rclip]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from clipsearch.models.planner import cpu_signature

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "clipsearch")
MODEL = ["--model", "ViT-B-32-256", "--pretrained", "none"]


def make_folder(folder: Path, n: int, every: int = 20) -> dict[str, str]:
    """``n`` photos, a sign on every ``every``-th; returns photo name -> the code on its sign."""
    from benchlib import make_photos
    from PIL import Image, ImageDraw, ImageFont

    paths = make_photos(folder, n)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 90)
    codes = {}
    for i, path in enumerate(paths):
        if i % every:
            continue
        code = f"KX-{2000 + i}-B"
        image = Image.open(path)
        draw = ImageDraw.Draw(image)
        x, y = 800 + (i * 37) % 1800, 700 + (i * 53) % 1400
        draw.rectangle([x, y, x + 1150, y + 330], fill=(245, 245, 240))
        draw.text((x + 50, y + 40), "GATE 4", fill=(20, 20, 20), font=font)
        draw.text((x + 50, y + 170), code, fill=(20, 20, 20), font=font)
        image.save(path, quality=90)
        codes[path.name] = code
    return codes


def timed_index(folder: Path, home: Path, *args: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run([EXE, "index", str(folder), "--home", str(home), *MODEL, *args, "--json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return time.perf_counter() - started, json.loads(done.stdout)


def codes_found(home: Path, folder: Path, codes: dict[str, str]) -> str:
    found = 0
    for name, code in codes.items():
        done = subprocess.run([EXE, "search", "--text", code, "--home", str(home), "--json"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        found += any(Path(h["path"]) == folder / name for h in json.loads(done.stdout))
    return f"{found}/{len(codes)}"


def runs(work: Path, folder: Path, rounds: int, rclip: bool) -> dict[str, Any]:
    import rclip_ref

    from clipsearch.models.onnx_export import ensure_export
    from clipsearch.models.registry import resolve_model_ref

    out: dict[str, Any] = {}
    warm = work / "warm"
    warm.mkdir()
    (warm / "one.jpg").write_bytes(next(folder.iterdir()).read_bytes())
    timed_index(warm, work / "home-warm")  # the planner and the exported model, once for everyone
    exe = datadir = None
    if rclip:
        try:
            exe = rclip_ref.install(ROOT / "bench-out" / f"rclip-{rclip_ref.VERSION}")
            datadir = rclip_ref.model_dir(ensure_export(resolve_model_ref("ViT-B-32-256", "none")), work / "rclip")
        except rclip_ref.Unavailable as err:
            out["rclip"] = f"not measured: {err}"
    best: dict[str, float] = {}
    for r in range(rounds):
        if exe is not None:
            best["rclip"] = min(best.get("rclip", 1e9), rclip_ref.index_seconds(exe, datadir, folder))
        took, _ = timed_index(folder, work / f"home-none-{r}", "--ocr", "none")
        best["none"] = min(best.get("none", 1e9), took)
        took, report = timed_index(folder, work / f"home-default-{r}")
        if took < best.get("total", 1e9):
            best["total"], best["searchable"] = took, took - report["phases"]["text_s"]
            out["default_report"] = {k: report[k] for k in ("phases", "text", "items", "encoding")}
            out["codes_found"] = codes_found(work / f"home-default-{r}", folder, CODES)
        print({k: round(v, 2) for k, v in best.items()}, flush=True)
    out["ocr_none_s"] = round(best["none"], 2)
    out["default_searchable_s"] = round(best["searchable"], 2)
    out["default_total_s"] = round(best["total"], 2)
    out["searchable_vs_ocr_none"] = round(best["searchable"] / best["none"], 2)
    out["total_vs_ocr_none"] = round(best["total"] / best["none"], 2)
    if "rclip" in best:
        out["rclip_s"] = round(best["rclip"], 2)
        out["default_vs_rclip"] = round(best["rclip"] / best["total"], 2)
        out["ocr_none_vs_rclip"] = round(best["rclip"] / best["none"], 2)
    return out


CODES: dict[str, str] = {}


def small_pictures(work: Path) -> dict[str, float]:
    """A default `index` of small pictures on white: what its text pass costs."""
    from clipsearch.models.demo_shapes import generate_folder

    folder = work / "shapes"
    n = len(generate_folder(folder, per_class=1))
    done = subprocess.run([EXE, "index", str(folder), "--home", str(work / "home-shapes"), "--model", "tiny-shapes",
                           "--json"], capture_output=True, text=True, check=True)  # fmt: skip
    seconds = json.loads(done.stdout)["phases"]["text_s"]
    return {"pictures": n, "text_s": seconds, "ms_per_picture": round(1000 * seconds / n, 1)}


def _ms(fn: Any, repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 1)


def stages(work: Path, folder: Path) -> dict[str, float]:
    """Per picture, now and through the previous reader, one picture at a time on this thread."""

    from clipsearch.ingest import gatecache
    from clipsearch.ingest.extract import read_text
    from clipsearch.ingest.images import load_image
    from clipsearch.ingest.ocrpool import OcrPool
    from clipsearch.ingest.textpass import decode_for_reading

    plain = next(p for p in sorted(folder.iterdir()) if p.name not in CODES)
    sign = next(folder / name for name in CODES)
    copy = work / "gate-copy.jpg"
    gatecache.save(load_image(plain, gatecache.SHORT_SIDE), copy)
    sign_copy = work / "gate-sign.jpg"
    gatecache.save(load_image(sign, gatecache.SHORT_SIDE), sign_copy)
    pool = OcrPool()
    pool.share(2)  # as the text pass runs: two workers on two cores
    engine = pool.engine()
    seen = gatecache.load(copy)
    sign_seen = gatecache.load(sign_copy)
    data = sign.read_bytes()

    def full() -> Any:
        return decode_for_reading(data, sign.name)

    out = {
        "photo_gate_copy_read": _ms(lambda: gatecache.load(copy)),
        "photo_gate": _ms(lambda: engine.find_lines(seen)),
        "sign_photo_read": _ms(lambda: read_text(engine, "auto", sign_seen, full, "s")),
    }  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-rclip", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"cpu": cpu_signature(), "photos": args.photos}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "photos"
        CODES.update(make_folder(folder, args.photos))
        result["photos_with_text"] = len(CODES)
        result.update(runs(work, folder, args.rounds, not args.no_rclip))
        result["small_pictures"] = small_pictures(work)
        result["stages_ms"] = stages(work, folder)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
