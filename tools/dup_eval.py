#!/usr/bin/env python3
"""`make eval`: near-duplicate quality on real pictures, and speed on 1M synthetic items.

Quality: originals from the shared corpus plus edited copies (see clipsearch.dupeval), indexed by
the real `clipsearch index`, grouped by `clipsearch duplicates --by exact --by perceptual`; pairwise
precision / recall / F1. Speed: 1M random 128-bit codes with planted near-duplicate pairs, through
the same range search and grouping code. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from clipsearch.query.dupeval import EDITS, build_set, pairwise  # noqa: E402
from clipsearch.query.duplicates import group_pairs, perceptual_pairs  # noqa: E402
from clipsearch.store.catalog import ItemRow  # noqa: E402

EXE = str(Path(sys.executable).parent / "clipsearch")


def quality(work: Path) -> dict:
    truth = build_set(ROOT / "tests" / "corpus", work / "set")
    home = ["--home", str(work / "home")]
    subprocess.run([EXE, "index", str(work / "set"), *home, "--model", "tiny-shapes", "--json"], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    out = subprocess.run([EXE, "duplicates", *home, "--by", "exact", "--by", "perceptual", "--json"],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    groups = [[m["path"] for m in g["items"]] for g in json.loads(out)]
    result = pairwise(groups, truth)
    result["originals"] = len(set(truth.values()))
    result["files"] = len(truth)
    per_edit = {}
    for edit in EDITS:
        hits = sum(
            any(p.endswith(f"/{edit}.png") or p.endswith(f"/{edit}.jpg") or Path(p).stem == edit for p in g)
            and any(Path(p).stem == "original" for p in g)
            for g in groups
        )
        per_edit[edit] = hits
    result["groups_with_original_and_edit"] = per_edit
    return result


def speed(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    planted = n // 100  # 1% of items get a near-copy with 1..10 flipped bits
    src = rng.choice(n, planted, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), planted, replace=False)
    codes[dst] = codes[src]
    for row in dst:
        bits = rng.choice(128, rng.integers(1, 11), replace=False)
        for b in bits:
            codes[row, b // 8] ^= 1 << (b % 8)
    ids = np.arange(1, n + 1, dtype=np.int64)
    started = time.perf_counter()
    pairs: dict = {}
    perceptual_pairs(ids, codes, 24, pairs)
    search_s = time.perf_counter() - started
    rows = {
        int(i): ItemRow(id=int(i), path=f"/x/{i}.jpg", page=0, size=1, mtime_ns=1, content_hash="h", width=1, height=1)
        for i in {a for p in pairs for a in p}
    }
    groups = group_pairs(rows, pairs)
    total = time.perf_counter() - started
    return {"n": n, "planted_pairs": planted, "pairs_found": len(pairs), "groups": len(groups),
            "range_search_s": round(search_s, 1), "total_s": round(total, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic items for the speed run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        q = quality(Path(tmp))
    print("quality:", json.dumps(q), flush=True)
    s = speed(args.n)
    print("speed:", json.dumps(s), flush=True)
    print(json.dumps({"duplicates_quality": q, "duplicates_speed": s}))


if __name__ == "__main__":
    main()
