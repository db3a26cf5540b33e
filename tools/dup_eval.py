#!/usr/bin/env python3
"""`make eval`: near-duplicate quality on real pictures and on documents, and speed on 1M synthetic items.

Quality: originals from the shared corpus plus edited copies (see clipsearch.dupeval), indexed by
the real `clipsearch index`, grouped by `clipsearch duplicates --by exact --by perceptual`; pairwise
precision / recall / F1. Documents: a generated set of reports, drawings, logos and a manual with
copies, revisions and look-alikes (see clipsearch.query.doceval), indexed with the default OCR and
grouped by `clipsearch duplicates` with its default tiers; pairwise scores, revisions reported as
copies, revisions found, whole documents found. Speed: 1M random 128-bit codes with planted
near-duplicate pairs, through the same range search and grouping code. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from clipsearch.query.doceval import build_document_set, score_documents  # noqa: E402
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


def documents(work: Path, size: str = "full") -> dict:
    """The generated document set indexed as a user would (default OCR), grouped with the default tiers."""
    truth = build_document_set(work / "documents", size=size)
    home = ["--home", str(work / "documents-home")]
    env = {k: v for k, v in os.environ.items() if k != "CLIPSEARCH_OCR"}  # the default OCR, whatever the shell says
    started = time.perf_counter()
    subprocess.run([EXE, "index", str(work / "documents"), *home, "--model", "tiny-shapes", "--json"], check=True,
                   stdout=subprocess.DEVNULL, env=env)  # fmt: skip
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    out = subprocess.run([EXE, "duplicates", *home, "--json"], check=True, capture_output=True, text=True,
                         env=env).stdout  # fmt: skip
    result = score_documents(json.loads(out), truth)
    result.update(size=size, items=len(truth.pages), index_s=round(index_s, 1),
                  duplicates_s=round(time.perf_counter() - started, 1))  # fmt: skip
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
    parser.add_argument("--documents", choices=("full", "small"), default="full", help="size of the document set")
    parser.add_argument("--only", choices=("photos", "documents", "speed"), action="append",
                        help="run only these parts (repeatable) [all]")  # fmt: skip
    args = parser.parse_args()
    parts = set(args.only or ("photos", "documents", "speed"))
    result = {}
    if "photos" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            result["duplicates_quality"] = quality(Path(tmp))
        print("quality:", json.dumps(result["duplicates_quality"]), flush=True)
    if "documents" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            result["duplicates_documents"] = documents(Path(tmp), args.documents)
        print("documents:", json.dumps(result["duplicates_documents"]), flush=True)
    if "speed" in parts:
        result["duplicates_speed"] = speed(args.n)
        print("speed:", json.dumps(result["duplicates_speed"]), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
