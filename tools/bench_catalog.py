#!/usr/bin/env python3
"""PostgreSQL against SQLite as the catalog, in `make bench`: the same photos indexed into each
(alternately, best of ``rounds``), then the same queries against each.

- index_images_per_s: `clipsearch index` end to end (a new process), ``--ocr none``, the default
  precision, into a new index: SQLite in the folder, or ``--catalog`` on a PostgreSQL server
  started here (tools/pgserver.py: Debian's package, a temp folder, 127.0.0.1, fsync on);
- cold_query_s: a new `clipsearch search` process for a text (cached after the first run), median
  of 5; cold_filtered_query_s: the same with ``--under`` (the filter is SQL on the catalog);
- search_ms_p50 / filtered_search_ms_p50: in one process (as `serve` does), the same two queries,
  median of 50 each.

The photos hold no text, so full-text search is not compared here (see the tests for what it finds).

Run alone: ``python tools/bench_catalog.py [PHOTOS_FOLDER]`` (default: 160 generated photos, as `make bench`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

EXE = str(Path(sys.executable).parent / "clipsearch")
MODEL = ["--model", "ViT-B-32-256", "--pretrained", "none"]


def _run(args: list[str], home: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([EXE, *args, "--home", str(home), "--json"], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def _queries(home: Path, env: dict[str, str], photos: Path) -> dict[str, float]:
    cold = [_run(["search", "a red car in the snow"], home, env) for _ in range(5)]
    cold_under = [_run(["search", "a red car in the snow", "--under", str(photos)], home, env) for _ in range(5)]
    # the password for the in-process searches; only it: CLIPSEARCH_OCR=none leaking into this process
    # turned OCR off for every later part of `make bench` (the text pass measured nothing)
    os.environ["PGPASSWORD"] = env["PGPASSWORD"]
    from clipsearch import Index
    from clipsearch.query.filters import Filters

    with Index.open(home=home) as ix:
        searcher = ix.searcher
        under = Filters(under=(str(photos),))
        searcher.search("a red car", k=10, filters=under)  # warm: model loaded, text cached
        plain, filtered = [], []
        for _ in range(50):
            started = time.perf_counter()
            searcher.search("a red car", k=10)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            searcher.search("a red car", k=10, filters=under)
            filtered.append(time.perf_counter() - started)
    return {
        "cold_query_s": round(statistics.median(cold), 3),
        "cold_filtered_query_s": round(statistics.median(cold_under), 3),
        "search_ms_p50": round(statistics.median(plain) * 1000, 2),
        "filtered_search_ms_p50": round(statistics.median(filtered) * 1000, 2),
    }


def run(photos: Path, work: Path, rounds: int = 2) -> dict[str, Any]:
    """Both catalogs on the photos in ``photos``; the PostgreSQL part is skipped (and says so) where
    the server is not installed."""
    import pgserver

    if pgserver.bin_dir() is None:
        return {"postgresql": "not measured: PostgreSQL is not installed (apt-get install postgresql)"}
    n = len(list(photos.iterdir()))
    env = {**os.environ, "CLIPSEARCH_OCR": "none", "PGPASSWORD": pgserver.PASSWORD}
    best: dict[str, float] = {}
    homes: dict[str, Path] = {}
    one = work / "warm-up"
    one.mkdir(parents=True, exist_ok=True)
    os.link(next(photos.iterdir()), one / "one.jpg")
    _run(["index", str(one), *MODEL], work / "home-warm-up", env)  # export and plan cached, as for a user
    with pgserver.running() as server:
        for i in range(rounds):
            for engine in ("sqlite", "postgresql"):
                home = work / f"{engine}-{i}"
                extra = ["--catalog", server.create_database(f"bench{i}")] if engine == "postgresql" else []
                took = _run(["index", str(photos), *MODEL, *extra], home, env)
                print(f"catalog {engine}: index {n / took:.2f} images/s", flush=True)
                if took < best.get(engine, float("inf")):
                    best[engine], homes[engine] = took, home
        out: dict[str, Any] = {"images": n, "postgresql_server": server.sql("SHOW server_version")}
        for engine in ("sqlite", "postgresql"):
            out[engine] = {"index_images_per_s": round(n / best[engine], 2), **_queries(homes[engine], env, photos)}
            print(f"catalog {engine}:", out[engine], flush=True)
    out["postgresql_vs_sqlite_index"] = round(best["sqlite"] / best["postgresql"], 3)
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            folder = Path(sys.argv[1])
        else:  # the bench's generated ~12 MP photos
            from benchlib import make_photos

            folder = Path(tmp) / "photos"
            make_photos(folder, 160)
        print(
            json.dumps(
                {
                    "cpu": __import__("clipsearch.models.planner").models.planner.cpu_signature(),
                    **run(folder, Path(tmp) / "work"),
                }
            )
        )
