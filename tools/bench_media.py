"""`make bench`, media part: video indexing speed, RAW decoding cost, and how soon `watch` sees a file.
Run alone: ``python tools/bench_media.py``.

- video_frames_per_s: frames of a generated 1080p clip (30 fps, scenes of one shape each) gone through
  per second by `clipsearch index` end to end (ViT-B-32-256, random weights: a pretrained model's
  cost), with video_frames_kept_share, the share of frames stored as items;
- raw_preview_ms / raw_demosaic_ms: one 24 MP RAW photo's picture, by its embedded full-size JPEG
  preview (what `index` uses when it is large enough; the JPEG decoded as the indexer does, draft mode)
  against a half-size demosaic of the sensor data (a generated 24 MP DNG through LibRaw);
- watch_to_searchable_s_p50: from a new file being closed to it being in the catalog, median over
  20 files, `clipsearch watch` with its defaults (1 s quiet, 0.5 s settle).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "clipsearch")
MODEL = ["--model", "ViT-B-32-256", "--pretrained", "none"]


def bench_video(work: Path, seconds: int = 20) -> dict[str, float]:
    import av
    from PIL import Image

    from clipsearch.models.demo_shapes import COLOURS, SHAPES, draw

    path = work / "clip" / "scenes.mp4"
    path.parent.mkdir(parents=True)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
    rng = np.random.default_rng(1)
    for scene in range(seconds // 2):  # a scene every 2 s
        base = np.asarray(draw(COLOURS[scene % 6], SHAPES[scene % 5], rng).resize((1920, 1080)))
        for i in range(60):
            for packet in stream.encode(av.VideoFrame.from_image(Image.fromarray(np.roll(base, 2 * i, axis=1)))):
                container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()

    def index(home: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        started = time.perf_counter()
        done = subprocess.run([EXE, "index", str(path.parent), "--home", str(work / home), *MODEL, "--ocr", "none",
                               "--json"], check=True, capture_output=True, text=True)  # fmt: skip
        return time.perf_counter() - started, done

    index("home-warm")  # the model's one-time export on this machine is not the video's cost
    took, done = index("home-video")
    report = json.loads(done.stdout)
    total = seconds * 30
    return {"video_frames": total, "video_frames_per_s": round(total / took, 1),
            "video_frames_kept_share": round(report["items"] / total, 4)}  # fmt: skip


def bench_raw(work: Path) -> dict[str, float]:
    import io

    import rawpy
    from PIL import Image
    from samples import write_dng

    dng = write_dng(work / "big.dng", width=6000, height=4000)
    preview = io.BytesIO()  # a camera's preview: a photo at full sensor size, JPEG quality 90
    Image.open(ROOT / "tests" / "corpus" / "photos" / "coffee.png").convert("RGB").resize((6000, 4000)).save(
        preview, "JPEG", quality=90
    )
    data = preview.getvalue()
    demosaic, jpeg = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        with rawpy.imread(str(dng)) as raw:
            raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
        demosaic.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (384, 256))
        image.load()
        jpeg.append(time.perf_counter() - t0)
    return {"raw_demosaic_ms": round(min(demosaic) * 1000, 1), "raw_preview_ms": round(min(jpeg) * 1000, 1)}


def bench_watch(work: Path, files: int = 20) -> dict[str, float]:
    from clipsearch.config import IndexLocation
    from clipsearch.store.catalog import Catalog

    folder, home = work / "watched", work / "home-watch"
    folder.mkdir()
    photo = ROOT / "tests" / "corpus" / "photos" / "coffee.png"
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none"}
    proc = subprocess.Popen([EXE, "watch", str(folder), "--model", "tiny-shapes", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    proc.stdout.readline()  # the catch-up run is done
    catalog = Catalog(IndexLocation(home, "default").path / "catalog.sqlite", migrate=False)
    latencies = []
    try:
        for i in range(files):
            target = folder / f"p{i}.png"
            shutil.copy(photo, target)
            closed = time.perf_counter()
            while not catalog.find_path(str(target)):
                time.sleep(0.02)
            latencies.append(time.perf_counter() - closed)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        catalog.close()
    return {"watch_to_searchable_s_p50": round(statistics.median(latencies), 2),
            "watch_to_searchable_s_max": round(max(latencies), 2)}  # fmt: skip


def run(work: Path) -> dict[str, object]:
    result: dict[str, object] = {}
    for part in (bench_video, bench_raw, bench_watch):
        sub = work / part.__name__
        sub.mkdir()
        result.update(part(sub))
        print(part.__name__, result, flush=True)
    return result


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp))))
