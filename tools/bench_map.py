"""`make bench`, map part: what the library's map and page tiles cost. Run alone:
``python tools/bench_map.py [--n 100000] [--new 1000]``; prints one JSON object last.

- map_build_s / map_peak_mb: `clipsearch map`'s first drawing of an index of --n synthetic 512-d
  vectors in clusters (ViT-B-32-256's manifest, random weights: the text tower that names the groups
  costs what a pretrained one does): layout (a UMAP sample, the rest placed by neighbours past 20k),
  groups, names, and the peak memory of the process (ru_maxrss, all it loaded included);
- map_update_s: the same map brought up to date after --new items are added (placed by neighbours);
  map_cached_s: asked again with nothing changed;
- tiles: the corpus drawings (tests/corpus/drawings, images and PDF pages) indexed end to end with
  and without `--region tiles --region-scope all` (OCR off, like for like): seconds, and the index
  folder's size on disk.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "clipsearch")
MODEL = ["--model", "ViT-B-32-256", "--pretrained", "none"]


def _clustered(n: int, dim: int, rng: np.random.Generator, centres: int = 60) -> np.ndarray:
    from clipsearch.models.encoder import normalise

    c = normalise(rng.normal(size=(centres, dim)))
    return normalise(c[rng.integers(0, centres, n)] + 0.8 * rng.normal(size=(n, dim)) / np.sqrt(dim))


def bench_map(work: Path, n: int, new: int) -> dict[str, object]:
    from samples import synthetic_item

    from clipsearch.config import IndexLocation
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder
    from clipsearch.query import maps
    from clipsearch.store.folder import IndexStore

    encoder = load_encoder(resolve_model_ref("ViT-B-32-256", "none"), "cpu")
    store = IndexStore.create(IndexLocation(work / "home", "default"), encoder.info)
    rng = np.random.default_rng(7)
    for start in range(0, n + new, 20_000):
        count = min(20_000, n - start) if start < n else 0
        if count > 0:
            vecs = _clustered(count, encoder.info.dim, rng)
            store.catalog.commit_batch(add=[synthetic_item(f"/m/{start + i}.jpg", v) for i, v in enumerate(vecs)])
    started = time.perf_counter()
    first = maps.current(store, lambda: encoder)
    build = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    maps.current(store, lambda: encoder)
    cached = time.perf_counter() - started
    vecs = _clustered(new, encoder.info.dim, rng)
    store.catalog.commit_batch(add=[synthetic_item(f"/m/new-{i}.jpg", v) for i, v in enumerate(vecs)])
    started = time.perf_counter()
    updated = maps.current(store, lambda: encoder)
    update = time.perf_counter() - started
    store.close()
    return {"map_items": n, "map_method": first.method, "map_groups": len(first.clusters),
            "map_unclustered_share": round(float((first.cluster < 0).mean()), 3), "map_build_s": round(build, 1),
            "map_peak_mb": round(peak), "map_cached_s": round(cached, 3), "map_new_items": new,
            "map_update_s": round(update, 2), "map_placed": updated.placed}  # fmt: skip


def bench_tiles(work: Path) -> dict[str, object]:
    drawings = ROOT / "tests" / "corpus" / "drawings"
    out: dict[str, object] = {}
    for name, extra in (("none", []), ("tiles", ["--region", "tiles", "--region-scope", "all"])):
        home = work / f"tiles-{name}"
        started = time.perf_counter()
        done = subprocess.run([EXE, "index", str(drawings), "--home", str(home), *MODEL, "--ocr", "none", *extra,
                               "--json"], check=True, capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - started
        report = json.loads(done.stdout)
        size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
        out[name] = {"items": report["items"], "seconds": round(seconds, 2), "index_mb": round(size / 1e6, 2)}
    out["time_ratio"] = round(out["tiles"]["seconds"] / out["none"]["seconds"], 2)  # type: ignore[index]
    out["size_ratio"] = round(out["tiles"]["index_mb"] / out["none"]["index_mb"], 2)  # type: ignore[index]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1_000)
    args = parser.parse_args()
    from clipsearch.models.planner import cpu_signature

    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, object] = {"cpu": cpu_signature()}
        result.update(bench_map(Path(tmp) / "map", args.n, args.new))
        print("map:", result, flush=True)
        result["tiles"] = bench_tiles(Path(tmp))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
