#!/usr/bin/env python3
"""`clipsearch duplicates` at 100k items, on a real catalog, against its own reference in the same run.

A SQLite catalog is filled with ``--n`` synthetic items: random perceptual signatures (code and
look, as the indexer stores them), 1 % of them near-copies of another (1-10 code bits flipped),
a third of those pages with text (the same text, or a revision of it). Timed: the whole
``find_duplicates`` as a user runs it (candidates, the second look: colour, detail and text, then
documents, copies and revisions grouped), and as reference the candidates and the grouping alone
(what the command did before pairs were confirmed). Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from clipsearch.ingest.phash import CODE_BYTES, LOOK_BYTES

WORDS = [f"w{i:04d}" for i in range(5000)]


def fill(folder: Path, n: int, seed: int = 3) -> object:
    """A real catalog of ``n`` items with signatures; 1 % planted near-copies, some with text."""
    from sqlalchemy import text

    from clipsearch.store.catalog import Catalog
    from clipsearch.store.dialect import backend_of

    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 256, size=(n, CODE_BYTES + LOOK_BYTES), dtype=np.uint8)
    sigs[:, CODE_BYTES] = rng.integers(0, 256, n)  # the share of paper, all over
    planted = n // 100
    src = rng.choice(n, planted, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), planted, replace=False)
    sigs[dst] = sigs[src]
    for row in dst:
        for b in rng.choice(128, rng.integers(1, 11), replace=False):
            sigs[row, b // 8] ^= 1 << (b % 8)
    texts: dict[int, str] = {}
    for k, (a, b) in enumerate(zip(src[: planted // 3], dst[: planted // 3], strict=True)):
        body = [WORDS[i] for i in rng.integers(0, len(WORDS), 60)]
        texts[int(a) + 1] = " ".join(body)
        if k % 2:
            body[30] = "12.5" if body[30] != "12.5" else "13.5"  # a revision: one number changed
        texts[int(b) + 1] = " ".join(body)
    catalog = Catalog(folder / "catalog.sqlite")
    with catalog.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO items (id, path, page, size, mtime_ns, content_hash, width, height, vector, seq, "
                 "indexed_at, phash, extras_version) VALUES (:id, :path, 0, 1, 1, :h, 1, 1, :v, 1, 0, :p, 1)"),
            [{"id": i + 1, "path": f"/s/{i}.jpg", "h": f"h{i}", "v": b"\x00", "p": sigs[i].tobytes()}
             for i in range(n)],
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO texts (item_id, source, body, terms) VALUES (:id, 'ocr', :b, :t)"),
            [{"id": i, "b": b, "t": backend_of(conn).terms(b)} for i, b in texts.items()],
        )
    catalog.checkpoint()
    return catalog


def run(n: int, work: Path) -> dict[str, object]:
    from clipsearch.config import DEFAULT_MAX_DISTANCE
    from clipsearch.query import duplicates as dup

    catalog = fill(work, n)
    store = SimpleNamespace(catalog=catalog, model=SimpleNamespace(toy=True, name="synthetic"))
    rows = {r.id: r for r in catalog.items()}  # warm the catalog's pages for both timings
    out: dict[str, object] = {"n": n}
    for key in ("reference_s", "duplicates_s", "reference_again_s", "duplicates_again_s"):
        started = time.perf_counter()
        if key.startswith("reference"):
            rows = dup._rows(store, None)
            pairs = dup._candidates(store, rows, ("exact", "perceptual"), DEFAULT_MAX_DISTANCE, None)
            groups = dup.group_pairs(rows, pairs)
        else:
            groups = dup.find_duplicates(store)
        out[key] = round(time.perf_counter() - started, 2)
        out[key.replace("_s", "_groups").replace("_again", "")] = len(groups)
    best_ref = min(out["reference_s"], out["reference_again_s"])  # type: ignore[type-var]
    best_now = min(out["duplicates_s"], out["duplicates_again_s"])  # type: ignore[type-var]
    out["ratio"] = round(best_now / best_ref, 2)  # type: ignore[operator]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(args.n, Path(tmp))))


if __name__ == "__main__":
    main()
