"""What the benchmarks share: where things are, photo-like pictures made on the spot, a synthetic
index of random vectors, the model timed alone, and cold queries in new processes.

The tools import this module and each other only downwards (``bench.py`` runs the others; none of
them imports ``bench.py``). They run as scripts (``python tools/bench.py``), so Python finds this folder's modules
already, and ``clipsearch`` comes from the environment (``make setup``): no path edits.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "clipsearch")
#: ViT-B-32-256 with random weights: the cost of the pretrained one, no download.
MODEL = ["--model", "ViT-B-32-256", "--pretrained", "none"]


def make_photos(folder: Path, n: int, size: tuple[int, int] = (4000, 3000)) -> list[Path]:
    """Smooth gradients plus noise and shapes: decodes like a photo, not like a flat test card."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w, h = size
    small = (w // 8, h // 8)
    paths = []
    # one full-size noise field, shifted per photo: the sensor-like grain (what makes a JPEG costly
    # to decode) without drawing 12M random numbers per photo
    grain = rng.normal(0, 6, (h, w, 1)).astype(np.int16)
    for i in range(n):
        yy, xx = np.mgrid[0 : small[1], 0 : small[0]]
        base = np.stack([np.sin(xx / rng.uniform(20, 90) + i), np.cos(yy / rng.uniform(20, 90)),
                         np.sin((xx + yy) / rng.uniform(30, 120))], -1)  # fmt: skip
        arr = ((base + 1) * 110 + rng.normal(0, 12, base.shape)).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            draw.ellipse([x, y, x + int(rng.integers(50, 600)), y + int(rng.integers(50, 600))],
                         fill=tuple(int(c) for c in rng.integers(0, 255, 3)))  # fmt: skip
        noise = np.roll(grain, (int(rng.integers(0, h)), int(rng.integers(0, w))), axis=(0, 1))
        img = Image.fromarray((np.asarray(img, np.int16) + noise).clip(0, 255).astype(np.uint8))
        path = folder / f"photo{i:04d}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    return paths


def seconds_for(n: int, batch: int, encode: Callable[[Any], object], x: Any) -> float:
    """Time ``encode(x)`` on full batches until ``n`` images are done (after one warm-up call)."""
    encode(x[:2])
    started = time.perf_counter()
    done = 0
    while done < n:
        encode(x)
        done += batch
    return (time.perf_counter() - started) * n / done


def synthetic_index(work: Path, items: int, ref: Any = None, name: str = "home-synthetic") -> Path:
    """An index of ``items`` random unit vectors under ``ref``'s manifest (default: ViT-B-32-256,
    random weights)."""
    from samples import synthetic_item

    from clipsearch.config import IndexLocation
    from clipsearch.models.encoder import normalise
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder
    from clipsearch.store.folder import IndexStore

    home = work / name
    encoder = load_encoder(ref or resolve_model_ref("ViT-B-32-256", "none"), "cpu")
    store = IndexStore.create(IndexLocation(home, "default"), encoder.info)
    rng = np.random.default_rng(1)
    for start in range(0, items, 20_000):
        n = min(20_000, items - start)
        vecs = normalise(rng.normal(size=(n, encoder.info.dim)).astype(np.float32))
        store.catalog.commit_batch(add=[synthetic_item(f"/synthetic/{start + i}.jpg", vecs[i]) for i in range(n)])
    store.vectors()
    store.save_vectors()
    store.optimise()  # what `index` does at the end: IVF+SQ8 from 100k vectors
    store.close()
    return home


def cold_query(home: Path, runs: int = 5) -> dict[str, float]:
    """New processes: each with a text never embedded before, then one repeated text (cached)."""
    fresh, cached = [], []
    stamp = time.time_ns()
    for i in range(runs):
        for text, times in ((f"a dog on a beach number {stamp}-{i}", fresh), ("a dog on a beach", cached)):
            started = time.perf_counter()
            subprocess.run([EXE, "search", text, "--home", str(home), "--json"], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            times.append(time.perf_counter() - started)
    return {"cold_query_s": round(statistics.median(fresh), 3),
            "cold_query_cached_s": round(statistics.median(cached), 3)}  # fmt: skip
