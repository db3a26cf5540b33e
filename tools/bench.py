#!/usr/bin/env python3
"""`make bench`: speed figures, each measured in this run against a reference measured in this run.

`make bench` (<= 15 min on 2 cores; with the past-one-machine parts in one run: a sharded build
of 250k vectors on Ray, Ray's overhead, PostgreSQL against SQLite), `python tools/bench.py --quick`
(<= 3 min), or `make bench-scale` (`--scale`: the collection-size parts: ANN and duplicates at 1M,
text at 1M items, the sharded build at 2M, the map at 100k; ~35 min). Each figure is measured
once in a run: the model alone per runtime and precision, and its parity, come from the planner's
table. The JSON says which CPU it ran on (``cpu``: model name, ISA flags, cores): no figure means
anything without it.

- planner: the planner's table for ViT-B-32-256 on this CPU (each runtime x precision: images/s,
  lowest cosine to fp32, kept or not) and its choice; planning_s: what planning cost, once;
- index_images_per_s: `clipsearch index` end to end (new process, from interpreter start to exit)
  on generated ~12 MP photo-like JPEGs, ViT-B-32-256 with random weights (the same cost as
  pretrained ones), at the default precision (auto: the planner's choice); index_fp32_images_per_s
  at --precision fp32; forced_images_per_s: every configuration forced by name, and
  auto_vs_best_forced: auto against the fastest of those;
- startup: a one-photo `index` on a new index, and the same run finding nothing changed, against
  rclip_noop_run_s (rclip answering a query on a folder it has indexed);
- pipeline: decode, model and the rest per photo in core-milliseconds, each measured alone; the
  bound cores / (their sum) and pipeline_efficiency, the indexer's steady rate over that bound
  (index_steady_images_per_s: the whole run less a one-photo run's time, i.e. less start-up);
  end_to_end_efficiency: the whole run's rate over the bound;
- models: each preset and the default beside ViT-B-32-256, cold queries on --models-items items
  (``tools/bench_models.py``);
- ray_local_images_per_s: the same index run through `--ray local` (Ray's overhead on one machine);
- catalog: PostgreSQL against SQLite as the catalog, index and queries on the same photos
  (``tools/bench_catalog.py``; a server started for the run);
- shards: a sharded build of --shards-n vectors from 8 shards (``tools/bench_shards.py``);
- rclip_index_images_per_s: rclip 4.0.8, its defaults, the same folder and the same exported model
  (``tools/rclip_ref.py``), timed alternately with ours, best of --rounds each; vs_rclip: ratios;
  rclip_cold_query_s: a new `rclip --no-indexing` text query on those images;
- naive_images_per_s: the reference loop (PIL open, open_clip preprocess, encode_image per batch);
- ceiling_*_images_per_s: the model alone in each runtime and precision, from the planner's table
  of this run (OpenVINO fp32 / bf16 / int8, its best int8 group; ceiling_onnx_fp32 is ONNX
  Runtime's fp32, rclip's runtime; ceiling_onnx_int8 its dynamic int8), ceiling_torch PyTorch
  eager, batch 32, all threads;
- export_s: the one-time ONNX export (+ int8 quantisation) of the model, cached per machine;
- bf16_cosine_min / int8_cosine_min / onnx_int8_cosine_min: lowest cosine to fp32 vectors of the
  planner's parity pictures (corpus photos and drawings; the last: ONNX Runtime's int8);
- cold_query_s: a new `clipsearch search` process, a text never seen before, on an index of
  --items synthetic items (vector index chosen as `index` would: IVF+SQ8 at 100k);
  cold_query_cached_s: the same text again (its embedding comes from the text cache);
- api_search_ms_p50: `GET /api/search` in process on that index (text embedding cached / not);
- relabel_s: relabelling every item of that index for the 6 built-in doctype categories;
- ann: for 100k and 1M synthetic clustered unit vectors (dim 512), the index type `auto` picks,
  trained and tuned as the store does: recall@10 against exact search on fresh single queries,
  p50 latency, memory against float32 flat;
- media: video frames/s indexed, RAW preview vs demosaic, watch latency (``tools/bench_media.py``);
- text: full-text, filtered-vector and hybrid search figures on a synthetic index of --text-items
  (200k; the query costs are bounded past a few hundred thousand items: `make bench-scale` gives
  1M on SQLite and PostgreSQL) (``tools/bench_text.py``; OCR alone: its --items run);
- textpass: the default `index` (OCR on, two phases) against `--ocr none` and rclip on the same
  photos, 8 of 160 with a sign (the figures above run ``--ocr none``, like rclip, which reads no
  text), and the text pass's cost per picture, stage by stage (``tools/bench_textpass.py``); ocr:
  labels found on the corpus drawings by clipsearch's reading, by kind of label, ms per page
  (``tools/bench_ocr.py``, which alone also reads them with PP-OCR v4 and v6 as they come);
- duplicates_1m_s: perceptual duplicate search over 1M synthetic 128-bit codes (--dups-n);
- duplicates_catalog: the whole `duplicates` (candidates, the second look at colour, framing and
  text, documents, revisions) on a real catalog of --dups-catalog-n items with signatures and
  texts, against its candidates and grouping alone in the same run (``tools/bench_duplicates.py``);
- map: the library's map at --map-n synthetic items (build, peak memory, an update after 1,000 new
  items) and what page tiles cost on the corpus drawings (``tools/bench_map.py``).

Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import EXE, MODEL, ROOT, make_photos, seconds_for, synthetic_index
from benchlib import cold_query as bench_cold_query


def bench_export() -> dict[str, Any]:
    """Export (and quantise) the model once, then plan it, as the first `index` on a machine would."""
    from clipsearch.models import planner
    from clipsearch.models.onnx_export import ensure_export
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    ref = resolve_model_ref("ViT-B-32-256", "none")
    started = time.perf_counter()
    for precision in ("fp32", "int8"):
        folder = ensure_export(ref, precision)
    export_s = time.perf_counter() - started
    started = time.perf_counter()
    note = load_encoder(ref, "cpu", precision="auto").run_note or {}
    plan = planner.read_plan(folder) or {}
    return {"export_s": round(export_s, 1), "planning_s": round(time.perf_counter() - started, 1),
            "planner": {"chosen": {k: v for k, v in note.items() if k != "why"}, "why": note.get("why"),
                        "candidates": plan.get("candidates", [])}}  # fmt: skip


def bench_index(photos: Path, home: Path, args: list[str], ocr: str = "none") -> float:
    """`clipsearch index` end to end with ``args`` (runtime, precision). OCR off by default: rclip
    reads no text, so the comparison is like for like; ``index_ocr_auto_images_per_s`` measures
    the default (the text detector's gate)."""
    started = time.perf_counter()
    subprocess.run([EXE, "index", str(photos), "--home", str(home), *MODEL, *args, "--ocr", ocr, "--json"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


#: Configurations forced by name (``--runtime R --precision P``), each timed end to end beside auto.
FORCED = (("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8"), ("onnx", "fp32"), ("onnx", "int8"))


def bench_indexing(work: Path, rounds: int) -> dict[str, object]:
    """rclip, ours with the default precision (auto: the planner's choice), ours at --precision
    fp32 (the planner's fastest fp32), and every configuration forced by name; rclip and auto
    alternate ``rounds`` times and keep their best, the others run once."""
    import rclip_ref

    from clipsearch.models.onnx_export import ensure_export
    from clipsearch.models.registry import resolve_model_ref

    photos = work / "photos"
    n = len(list(photos.iterdir()))
    out: dict[str, object] = {}
    try:
        exe = rclip_ref.install(ROOT / "bench-out" / f"rclip-{rclip_ref.VERSION}")
        datadir = rclip_ref.model_dir(ensure_export(resolve_model_ref("ViT-B-32-256", "none")), work / "rclip")
    except rclip_ref.Unavailable as err:
        exe, out["rclip"] = None, f"not measured: {err}"
        print("rclip:", out["rclip"], flush=True)
    best: dict[str, float] = {}
    # warm caches for everyone, as "export cache warm" means: the built-in prompts' text vectors
    warm = work / "warm-up"
    warm.mkdir(exist_ok=True)
    os.link(next(photos.iterdir()), warm / "one.jpg")
    bench_index(warm, work / "home-warm-up", [])
    runs = [("rclip", None), ("auto", None), ("fp32", ["--precision", "fp32"])] * rounds
    # a configuration that auto or fp32 runs already is not run again under its name (same command)
    same = _planned_configurations()
    runs += [(f"{r} {p}", ["--runtime", r, "--precision", p]) for r, p in FORCED if (r, p) not in same]
    runs += [("ray local", ["--ray", "local"])]  # Ray's overhead: the same work on a local cluster
    for i, (who, args) in enumerate(runs):
        if who == "rclip":
            if exe is None:
                continue
            try:
                took = rclip_ref.index_seconds(exe, datadir, photos)
            except rclip_ref.Unavailable as err:  # reported instead of a number; ours still run
                exe, out["rclip"] = None, f"not measured: {err}"
                print("rclip:", out["rclip"], flush=True)
                continue
        else:
            took = bench_index(photos, work / f"home-index-{i}", args or [])
        best[who] = min(best.get(who, took), took)
        print(f"index {who}: {n / took:.2f} images/s", flush=True)
    out["index_images_per_s"] = round(n / best["auto"], 2)
    out["index_fp32_images_per_s"] = round(n / best["fp32"], 2)
    out["ray_local_images_per_s"] = round(n / best.pop("ray local"), 2)
    for (runtime, precision), who in same.items():
        best.setdefault(f"{runtime} {precision}", best[who])
    out["forced_images_per_s"] = {who: round(n / t, 2) for who, t in best.items() if who not in {"rclip", "auto"}}
    fastest = max(out["forced_images_per_s"].values())
    out["auto_vs_best_forced"] = round(out["index_images_per_s"] / fastest, 3)
    if exe is not None and "rclip" in best:
        out["rclip_index_images_per_s"] = round(n / best["rclip"], 2)
        out["vs_rclip"] = {
            "auto": round(best["rclip"] / best["auto"], 2),
            "fp32": round(best["rclip"] / best["fp32"], 2),
        }
        out["rclip_cold_query_s"] = round(rclip_ref.cold_query_seconds(exe, datadir, photos), 3)
        out["rclip_noop_run_s"] = round(rclip_ref.noop_seconds(exe, datadir, photos), 3)
        print("vs rclip:", out["vs_rclip"], "rclip cold query:", out["rclip_cold_query_s"], "s", flush=True)
    return out


def _planned_configurations() -> dict[tuple[str, str], str]:
    """(runtime, precision) of what ``auto`` and ``--precision fp32`` run, from the planner's table
    of this run: those forced by name would run the same command again."""
    from clipsearch.models import planner
    from clipsearch.models.onnx_export import ensure_export
    from clipsearch.models.openvino_runtime import INT8_GROUP
    from clipsearch.models.registry import resolve_model_ref

    plan = planner.read_plan(ensure_export(resolve_model_ref("ViT-B-32-256", "none"), "int8")) or {}
    rows = [r for r in plan.get("candidates", []) if r.get("ok")]
    same: dict[tuple[str, str], str] = {}
    for who, keep in (("auto", lambda r: True), ("fp32", lambda r: r["precision"] == "fp32")):
        fastest = max((r for r in rows if keep(r)), key=lambda r: r["images_per_s"], default=None)
        if fastest is not None and (fastest["precision"] != "int8" or fastest["group"] in (0, INT8_GROUP)):
            same.setdefault((fastest["runtime"], fastest["precision"]), who)
    return same


def bench_startup(work: Path) -> dict[str, float]:
    """A one-photo `index` on a new index (model compiled, built-in prompts from the text cache),
    then the same command finding nothing changed; medians of 3 new processes each."""
    one = work / "one-photo"
    one.mkdir(exist_ok=True)
    first = next((work / "photos").iterdir())
    if not (one / first.name).exists():
        os.link(first, one / first.name)
    new, noop = [], []
    for i in range(3):
        new.append(bench_index(one, work / f"home-startup-{i}", []))
        noop.append(bench_index(one, work / f"home-startup-{i}", []))
    return {"one_photo_new_index_s": round(statistics.median(new), 3), "noop_run_s": round(statistics.median(noop), 3)}


def bench_pipeline(work: Path, paths: list[Path], index_rate: float, batch: int) -> dict[str, float]:
    """The machine's own per-photo bound, each part measured alone in this run: cores /
    (decode + model + the rest), in core-seconds per photo; efficiency = the indexer's rate over it."""
    import hashlib

    from clipsearch.ingest.images import load_image
    from clipsearch.ingest.phash import perceptual_code
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    enc = load_encoder(resolve_model_ref("ViT-B-32-256", "none"), "cpu", precision="auto")
    cores = os.cpu_count() or 1
    sample = paths[: min(len(paths), 48)]
    started = time.process_time()
    images = [load_image(p, enc.info.image_size) for p in sample]
    decode = (time.process_time() - started) / len(sample)
    started = time.process_time()
    for p, im in zip(sample, images, strict=True):
        hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
        enc.preprocess(im)
        perceptual_code(im)
    rest = (time.process_time() - started) / len(sample)
    x = np.stack([enc.preprocess(im) for im in images[:batch]] * (batch // len(images[:batch]) + 1))[:batch]
    model = cores * seconds_for(len(x) * 2, len(x), enc.encode_images, x) / (len(x) * 2)
    bound = cores / (decode + model + rest)
    return {"decode_core_ms": round(decode * 1000, 1), "model_core_ms": round(model * 1000, 1),
            "rest_core_ms": round(rest * 1000, 1), "bound_images_per_s": round(bound, 2),
            "pipeline_efficiency": round(index_rate / bound, 3)}  # fmt: skip


def bench_naive(paths: list[Path], batch: int) -> float:
    import open_clip
    import torch
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32-256")
    model.eval()
    started = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            images = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths[i : i + batch]])
            model.encode_image(images)
    return time.perf_counter() - started


def bench_ceiling_torch(n: int, batch: int) -> float:
    import open_clip
    import torch

    model = open_clip.create_model("ViT-B-32-256").eval()
    with torch.inference_mode():
        return seconds_for(n, batch, model.encode_image, torch.randn(batch, 3, 256, 256))


def bench_relabel(home: Path) -> float:
    """Relabel every item for the built-in doctype facet (6 categories) from stored vectors."""
    from clipsearch.config import IndexLocation
    from clipsearch.models.runtimes import load_encoder
    from clipsearch.query.categories import Categories
    from clipsearch.store.folder import IndexStore

    store = IndexStore.open(IndexLocation(home, "default"))
    cats = Categories(store)
    cats.ensure_builtin(load_encoder(store.model.ref, "cpu"))
    started = time.perf_counter()
    cats.label()
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def bench_api(home: Path, queries: int = 40) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from clipsearch.config import IndexLocation
    from clipsearch.server import create_app

    client = TestClient(create_app(IndexLocation(home, "default")), base_url="http://127.0.0.1:8000")  # a host served
    client.get("/api/search", params={"q": "warm up", "k": 24})
    cached, fresh = [], []
    for i in range(queries):
        started = time.perf_counter()
        assert client.get("/api/search", params={"q": "warm up", "k": 24}).status_code == 200
        cached.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert client.get("/api/search", params={"q": f"query number {i}", "k": 24}).status_code == 200
        fresh.append(time.perf_counter() - started)
    return {"cached_text_ms_p50": round(statistics.median(cached) * 1000, 1),
            "new_text_ms_p50": round(statistics.median(fresh) * 1000, 1)}  # fmt: skip


def bench_ann(n: int, dim: int = 512, queries: int = 200, seed: int = 3) -> dict[str, object]:
    """The index type `auto` picks for ``n`` clustered unit vectors: recall@10 vs exact, p50, memory."""
    import faiss

    from clipsearch.store.vectors import VectorIndex, choose_index_type

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(64, n // 500), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    data = centres[rng.integers(0, len(centres), n)] + 0.06 * rng.normal(size=(n, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    q = data[rng.choice(n, 2 * queries, replace=False)] + 0.03 * rng.normal(size=(2 * queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    truth = np.concatenate([np.argsort(-(q @ data[i : i + 100_000].T), axis=1)[:, :10] + i
                            for i in range(0, n, 100_000)], axis=1)  # fmt: skip
    scores = np.concatenate([np.sort(q @ data[i : i + 100_000].T, axis=1)[:, ::-1][:, :10]
                             for i in range(0, n, 100_000)], axis=1)  # fmt: skip
    truth = np.take_along_axis(truth, np.argsort(-scores, axis=1)[:, :10], 1)
    index_type = choose_index_type(n)
    started = time.perf_counter()
    ids = np.arange(n, dtype=np.int64)
    vi = VectorIndex.build(dim, ((ids[i : i + 50_000], data[i : i + 50_000]) for i in range(0, n, 50_000)), index_type)
    tuned = vi.tune(q[:queries], truth[:queries])
    build_s = time.perf_counter() - started
    times, found = [], []
    for row in q[queries:]:
        t0 = time.perf_counter()
        _, f = vi.search(row[None], 10)
        times.append(time.perf_counter() - t0)
        found.append(f[0])
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth[queries:], strict=True)]))
    return {"n": n, "index_type": index_type, "nprobe": vi.nprobe, "recall_at_10": round(recall, 4),
            "tuning_recall_at_10": round(tuned, 4), "search_ms_p50": round(statistics.median(times) * 1000, 3),
            "memory_mb": round(len(faiss.serialize_index(vi.index)) / 1e6, 1),
            "float32_flat_mb": round(n * dim * 4 / 1e6, 1), "build_s": round(build_s, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (<= 3 min on 2 cores): 32 photos, "
                        "one round, 10k-item queries, no media/text/duplicates/models parts")  # fmt: skip
    parser.add_argument("--images", type=int, default=160, help="generated 12 MP JPEGs to index")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rclip/auto/fp32 runs (best kept)")
    parser.add_argument("--items", type=int, default=100_000, help="synthetic index size for query timings")
    parser.add_argument("--scale", action="store_true", help="also the collection-size parts (make bench-scale): "
                        "ANN and duplicates at 1M, text at 1M items")  # fmt: skip
    parser.add_argument("--ann-n", type=int, nargs="*", default=[100_000], help="ANN sizes")
    parser.add_argument("--dups-n", type=int, default=0, help="synthetic codes for duplicates (0: skip)")
    parser.add_argument("--dups-catalog-n", type=int, default=100_000,
                        help="items for the whole duplicates command on a real catalog (0: skip)")  # fmt: skip
    parser.add_argument("--media", type=int, default=1, help="video, RAW and watch figures (0: skip)")
    parser.add_argument("--text-items", type=int, default=200_000, help="items for text/filter queries (0: skip)")
    parser.add_argument("--models", type=int, default=32, help="photos for the model-family part (0: skip)")
    parser.add_argument("--shards-n", type=int, default=250_000, help="vectors for the sharded build (0: skip)")
    parser.add_argument("--textpass", type=int, default=1, help="the text pass and the drawings' OCR (0: skip)")
    parser.add_argument("--map-n", type=int, default=50_000, help="items for the map part, and tiles (0: skip)")
    parser.add_argument("--models-items", type=int, default=10_000,
                        help="items of each model's index for its cold query (model-family part)")  # fmt: skip
    args = parser.parse_args()
    if args.scale:
        args.ann_n, args.dups_n, args.text_items = [100_000, 1_000_000], 1_000_000, 1_000_000
        args.shards_n, args.map_n, args.models_items = 2_000_000, 100_000, 100_000
    if args.quick:
        args.images, args.rounds, args.items, args.ann_n = 32, 1, 10_000, [100_000]
        args.dups_n = args.media = args.text_items = args.models = args.shards_n = args.textpass = args.map_n = 0
        args.dups_catalog_n = 0
    from clipsearch.models.planner import cpu_signature

    started = time.perf_counter()
    result: dict[str, object] = {"cpu": cpu_signature(), "images": args.images, "batch": args.batch,
                                 "quick": args.quick}  # fmt: skip
    print("cpu:", result["cpu"], flush=True)
    own_cache = os.environ.get("CLIPSEARCH_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["CLIPSEARCH_CACHE"] = str(work / "cache")  # a first run on this machine: export measured
        paths = make_photos(work / "photos", args.images)
        result.update(bench_export())
        print("export:", result["export_s"], "s; planning:", result["planning_s"], "s;", result["planner"]["why"])
        result.update(bench_indexing(work, args.rounds))
        if not args.quick:
            import bench_catalog

            (work / "catalog").mkdir()
            # one round each: SQLite's side is the indexing measured above, this compares the two
            result["catalog"] = bench_catalog.run(work / "photos", work / "catalog", 1)
        result["startup"] = bench_startup(work)
        print("start-up:", result["startup"], flush=True)
        # the indexer's steady rate: the whole run less what a one-photo run costs (start-up, compile)
        whole = args.images / float(result["index_images_per_s"])
        steady = (args.images - 1) / max(whole - result["startup"]["one_photo_new_index_s"], 1e-3)
        result["index_steady_images_per_s"] = round(steady, 2)
        result["pipeline"] = bench_pipeline(work, paths, steady, args.batch)
        result["pipeline"]["end_to_end_efficiency"] = round(
            float(result["index_images_per_s"]) / result["pipeline"]["bound_images_per_s"], 3
        )
        result["pipeline_efficiency"] = result["pipeline"]["pipeline_efficiency"]
        print("pipeline:", result["pipeline"], flush=True)
        result.update(bench_models_alone(paths, args, result["planner"]))
        home = synthetic_index(work, args.items)
        result["query_index_items"] = args.items
        result["relabel_s"] = round(bench_relabel(home), 2)
        print("relabel:", result["relabel_s"], "s", flush=True)
        result.update(bench_cold_query(home))
        print("cold query:", result["cold_query_s"], "s; cached text:", result["cold_query_cached_s"], "s", flush=True)
        result["api_search"] = bench_api(home)
        print("api:", result["api_search"], flush=True)
    # that cache is gone with its folder: the later parts (processes of their own) use the user's again
    if own_cache is None:
        os.environ.pop("CLIPSEARCH_CACHE")
    else:
        os.environ["CLIPSEARCH_CACHE"] = own_cache
    result["ann"] = []
    for n in args.ann_n:
        result["ann"].append(bench_ann(n))
        print("ann:", result["ann"][-1], flush=True)
    result["part_s"] = {"core": round(time.perf_counter() - started, 1)}
    result.update(bench_parts(args, result["part_s"]))
    result["bench_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


def bench_models_alone(paths: list[Path], args: argparse.Namespace, planner: dict[str, Any]) -> dict[str, object]:
    """The naive loop, the model alone in PyTorch, and the model alone in each runtime and precision
    with its parity on the corpus: the planner's own table, measured in this run (``planner``), not
    measured a second time."""
    out: dict[str, object] = {}
    sample = paths[: min(len(paths), 64)]  # a rate: more photos would only take longer
    out["naive_images_per_s"] = round(len(sample) / bench_naive(sample, args.batch), 2)
    print("naive:", out["naive_images_per_s"], "images/s", flush=True)
    out["ceiling_torch_images_per_s"] = round(64 / bench_ceiling_torch(64, args.batch), 2)
    print("ceiling torch:", out["ceiling_torch_images_per_s"], "images/s", flush=True)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for row in planner.get("candidates", []):  # the best int8 group of each runtime
        key = (row["runtime"], row["precision"])
        if key not in rows or row["images_per_s"] > rows[key]["images_per_s"]:
            rows[key] = row
    keys = (
        ("openvino", "fp32", "ceiling_images_per_s", None),
        ("openvino", "bf16", "ceiling_bf16_images_per_s", "bf16_cosine_min"),
        ("openvino", "int8", "ceiling_int8_images_per_s", "int8_cosine_min"),
        ("onnx", "fp32", "ceiling_onnx_fp32_images_per_s", None),
        ("onnx", "int8", "ceiling_onnx_int8_images_per_s", "onnx_int8_cosine_min"),
    )
    for runtime, precision, rate, cosine in keys:
        row = rows.get((runtime, precision))
        out[rate] = row["images_per_s"] if row else None
        if cosine:
            out[cosine] = row["cosine_min"] if row else None
    return out


def bench_parts(args: argparse.Namespace, took: dict[str, float]) -> dict[str, object]:
    """The media, text, duplicate, sharded-build and model-family parts, each in its own module;
    ``took`` gets each part's seconds."""
    out: dict[str, object] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        took[name] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()

    if args.media:
        import bench_media

        with tempfile.TemporaryDirectory() as tmp:
            out["media"] = bench_media.run(Path(tmp))
        lap("media")
    if args.text_items:
        import bench_text

        with tempfile.TemporaryDirectory() as tmp:
            out["text"] = (bench_text.run_engines(args.text_items, Path(tmp)) if args.scale
                           else bench_text.run(args.text_items, Path(tmp), ocr=False))  # fmt: skip
        lap("text")
    if args.dups_n:
        from dup_eval import speed

        dup = speed(args.dups_n)
        out["duplicates_1m_s"] = dup["total_s"] if args.dups_n == 1_000_000 else None
        out["duplicates"] = dup
        lap("duplicates")

    def tool(key: str, script: str, *flags: str) -> None:
        """A part run as a process of its own (its peak memory is its own); its last line is its JSON."""
        done = subprocess.run([sys.executable, str(ROOT / "tools" / script), *flags], check=True,
                              capture_output=True, text=True)  # fmt: skip
        out[key] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{key}:", out[key], flush=True)

    if args.dups_catalog_n:
        tool("duplicates_catalog", "bench_duplicates.py", "--n", str(args.dups_catalog_n))
        lap("duplicates_catalog")
    if args.shards_n:
        tool("shards", "bench_shards.py", "--n", str(args.shards_n))
        lap("shards")
    if args.textpass:
        tool("textpass", "bench_textpass.py", "--rounds", "1")  # rclip's runs above say how steady it is
        tool("ocr", "bench_ocr.py", "--engines", "clipsearch")  # PP-OCR v4 and v6 alone: run it alone
        lap("textpass")
    if args.map_n:
        tool("map", "bench_map.py", "--n", str(args.map_n))
        lap("map")
    if args.models:
        import bench_models

        with tempfile.TemporaryDirectory() as tmp:
            names = list(bench_models.DEFAULT_MODELS)
            out["models"] = bench_models.run(Path(tmp), args.models, args.models_items, names)
        lap("models")
    return out


if __name__ == "__main__":
    main()
