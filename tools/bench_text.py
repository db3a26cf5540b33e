"""`make bench`, text and metadata part: OCR speed, the cost of a photo without text, full-text,
filtered vector and hybrid queries at 1M items. Run alone: ``python tools/bench_text.py [--items N]``;
``--postgresql`` runs the full-text, filter and hybrid parts on both engines, the same synthetic
index with its catalog in SQLite and in a PostgreSQL server started for the run
(tools/pgserver.py), and skips OCR.

- ocr_pages_per_s: pages read per second (detector + recogniser, and Tesseract for low-confidence
  lines where installed) on the corpus raster drawings, our scanned-page sample; ocr_gate_ms_per_photo:
  the ``--ocr auto`` gate on the corpus photos, which hold no text; reference: the model alone on one
  photo (ceiling) from the main bench, and the full read of a page.
- fulltext_ms_p50 / p95: `search --text` over N synthetic items (Zipf-distributed words, ~30 a text),
  single and two-word queries drawn from the vocabulary as people would type them (frequency-weighted);
  fulltext_rare_words_ms_p50: words drawn evenly from the vocabulary (mostly rare: part numbers);
  fulltext_filtered_ms_p50 / p95: half such words, half rare ones, with a date filter holding ~30 %;
  text_catalog_build_s (build_s per engine): the synthetic index made;
- filtered_vector_ms_p50: a vector search at N items restricted to a date range holding ~30 % of them
  (the ids, kept after the first query until the catalog changes, + the FAISS search with a bitmap
  selector); filter_ids_first_ms: the SQL for those ids the first time; filtered_recall_at_10
  against exact search over the same allowed vectors, next to the unfiltered recall;
- hybrid_ms_p50 / p95: `Index.search` end to end with a description never seen before (embedded by
  ViT-B-32-256, random weights), words (as fulltext_filtered's) and the date filter, fused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"


def bench_ocr() -> dict[str, float]:
    from PIL import Image

    from clipsearch.ingest.ocrpool import OcrPool

    ocr = OcrPool().engine()
    pages = [Image.open(p).convert("RGB") for p in sorted((CORPUS / "drawings").glob("*.jpg"))]
    photos = [Image.open(p).convert("RGB") for p in sorted((CORPUS / "photos").glob("*"))]
    ocr.has_text(photos[0])
    started = time.perf_counter()
    for page in pages:
        ocr.read(page)
    read_s = time.perf_counter() - started
    gate = []
    for photo in photos:
        t0 = time.perf_counter()
        ocr.has_text(photo)
        gate.append(time.perf_counter() - t0)
    return {"ocr_pages": len(pages), "ocr_pages_per_s": round(len(pages) / read_s, 3),
            "ocr_gate_ms_per_photo": round(statistics.median(gate) * 1000, 1)}  # fmt: skip


def synthetic_catalog(folder: Path, n: int, seed: int = 5, url: str | None = None) -> tuple[object, list[str]]:
    """A real catalog (migrated schema, full-text index) with ``n`` items: texts of Zipf-drawn words
    and dates over 10 years; vectors are not stored here (the vector index is built apart).
    ``url``: a PostgreSQL database instead of a SQLite file in ``folder``."""
    from clipsearch.store.catalog import Catalog

    catalog = Catalog(url or folder / "catalog.sqlite")
    return catalog, fill_catalog(catalog, n, seed)


def fill_catalog(catalog: object, n: int, seed: int = 5) -> list[str]:
    """:func:`synthetic_catalog`'s rows, into ``catalog``; returns 400 words drawn by frequency."""
    from sqlalchemy import text

    from clipsearch.store.dialect import backend_of

    rng = np.random.default_rng(seed)
    vocab = [f"w{i:05d}" for i in range(30_000)]
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    weights /= weights.sum()
    with catalog.engine.begin() as conn:  # type: ignore[attr-defined]
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            words = rng.choice(len(vocab), size=(m, 30), p=weights)
            days = rng.integers(0, 3650, m)
            items = [{"id": start + i + 1, "path": f"/s/{start + i}.jpg", "taken": _day(int(days[i]))}
                     for i in range(m)]  # fmt: skip
            conn.execute(
                text("INSERT INTO items (id, path, page, size, mtime_ns, content_hash, width, height, vector, seq, "
                     "indexed_at, taken, file_type, extras_version) VALUES (:id, :path, 0, 1, 1, 'h', 1, 1, :v, 1, "
                     "0, :taken, 'jpg', 1)"),
                [{**item, "v": b"\x00"} for item in items],
            )  # fmt: skip
            bodies = [" ".join(vocab[w] for w in row) for row in words]
            conn.execute(
                text("INSERT INTO texts (item_id, source, body, terms) VALUES (:id, 'ocr', :b, :t)"),
                [{"id": start + i + 1, "b": b, "t": backend_of(conn).terms(b)} for i, b in enumerate(bodies)],
            )
    catalog.checkpoint()  # type: ignore[attr-defined]  # as an index run ends: WAL folded, statistics
    return [vocab[i] for i in rng.choice(len(vocab), size=400, p=weights)]


def _day(day: int) -> str:
    from datetime import date, timedelta

    return (date(2015, 1, 1) + timedelta(days=day)).isoformat() + "T12:00:00"


def bench_fulltext(catalog: object, queries: list[str], vocab_size: int = 30_000) -> dict[str, float]:
    """Queries weighted by word frequency (common words often, as people type them), and words drawn
    evenly from the vocabulary (mostly rare words: the part numbers and names people look up)."""
    weighted, even = [], []
    rng = np.random.default_rng(11)
    for i in range(200):
        words = queries[i] if i % 2 else f"{queries[i]} {queries[i + 200]}"
        t0 = time.perf_counter()
        catalog.search_text(words, 10)  # type: ignore[attr-defined]
        weighted.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        catalog.search_text(f"w{int(rng.integers(vocab_size)):05d}", 10)  # type: ignore[attr-defined]
        even.append(time.perf_counter() - t0)
    from clipsearch.query.filters import Filters

    clause = Filters(after="2016-01-01", before="2019-01-01").clause()  # ~30 % of the items
    filtered = []
    for i in range(100):
        words = queries[i] if i % 2 else f"w{int(rng.integers(vocab_size)):05d}"
        t0 = time.perf_counter()
        catalog.search_text(words, 10, clause)  # type: ignore[attr-defined]
        filtered.append(time.perf_counter() - t0)
    return {"fulltext_ms_p50": round(statistics.median(weighted) * 1000, 2),
            "fulltext_ms_p95": round(float(np.percentile(weighted, 95)) * 1000, 2),
            "fulltext_rare_words_ms_p50": round(statistics.median(even) * 1000, 2),
            "fulltext_filtered_ms_p50": round(statistics.median(filtered) * 1000, 2),
            "fulltext_filtered_ms_p95": round(float(np.percentile(filtered, 95)) * 1000, 2)}  # fmt: skip


def synthetic_vectors(n: int, dim: int = 512, seed: int = 7) -> tuple[object, np.ndarray]:
    """``n`` clustered unit vectors (ids 1..n) in the index type `auto` would build, tuned."""
    from clipsearch.store.vectors import VectorIndex, choose_index_type

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(64, n // 500), dim)).astype(np.float32)
    data = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    ids = np.arange(1, n + 1, dtype=np.int64)
    vi = VectorIndex.build(dim, ((ids[i : i + 50_000], data[i : i + 50_000]) for i in range(0, n, 50_000)),
                           choose_index_type(n))  # fmt: skip
    q = _queries_near(data, 100, seed + 1)
    vi.tune(q, np.argsort(-(q @ data.T), axis=1)[:, :10] + 1)
    return vi, data


def _queries_near(data: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = data[rng.choice(len(data), count, replace=False)] + 0.05 * rng.normal(size=(count, data.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def synthetic_store(folder: Path, n: int, url: str | None = None) -> tuple[object, list[str], object, np.ndarray]:
    """An index folder as `index` leaves it, without pictures: the synthetic catalog (on ``url``'s
    server, or SQLite), ViT-B-32-256's manifest (random weights: a pretrained model's cost) and a
    FAISS index of clustered vectors for its items. Returns (store, words, vector index, vectors)."""
    from clipsearch.config import IndexLocation
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder
    from clipsearch.store.folder import IndexStore
    from clipsearch.store.manifest import VECTORS

    info = load_encoder(resolve_model_ref("ViT-B-32-256", "none"), "cpu").info
    store = IndexStore.create(IndexLocation(folder, "default"), info, catalog=url)
    queries = fill_catalog(store.catalog, n)
    vi, data = synthetic_vectors(n, info.dim)
    vi.save(store.vectors_path)
    store.manifest.vectors_changed(index_type=vi.index_type, file=VECTORS, nprobe=vi.nprobe)
    store.manifest.synced(store.catalog.seq(), vi.ntotal)
    return store, queries, vi, data


def bench_filtered(catalog: object, vi: object, data: np.ndarray) -> dict[str, float]:
    """A date-range filter (~30 % of the items) inside the search of the index `auto` would build."""
    from clipsearch.query.filters import Filters

    n = len(data)
    q = _queries_near(data, 100, 9)
    clause = Filters(after="2016-01-01", before="2019-01-01").clause()
    times, recall, recall_all = [], [], []
    t0 = time.perf_counter()
    allow = catalog.ids_where(clause)  # type: ignore[attr-defined]  # first time: the SQL runs
    first_ms = (time.perf_counter() - t0) * 1000
    for row in q:
        t0 = time.perf_counter()
        allow = catalog.ids_where(clause)  # type: ignore[attr-defined]  # then: kept until a commit
        _, found = vi.search(row[None], 10, allow=allow)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
        exact = allow[np.argsort(-(data[allow - 1] @ row))[:10]]
        recall.append(len(set(found[0]) & set(exact)) / 10)
        _, everything = vi.search(row[None], 10)  # type: ignore[attr-defined]
        exact_all = np.argsort(-(data @ row))[:10] + 1
        recall_all.append(len(set(everything[0]) & set(exact_all)) / 10)
    return {"filtered_share": round(len(allow) / n, 3),
            "filtered_vector_ms_p50": round(statistics.median(times) * 1000, 2),
            "filter_ids_first_ms": round(first_ms, 1),
            "filtered_recall_at_10": round(float(np.mean(recall)), 4),
            "unfiltered_recall_at_10": round(float(np.mean(recall_all)), 4),
            "nprobe": vi.nprobe}  # type: ignore[attr-defined]  # fmt: skip


def bench_hybrid(location: object, queries: list[str], runs: int = 100) -> dict[str, float]:
    """`Index.search` end to end as `serve` answers it: a description never seen before (its text
    embedded by the model, random weights), words (half drawn by frequency, half rare) and a date
    filter (~30 %), ranked together."""
    from clipsearch.front.index import Filters, Index

    rng = np.random.default_rng(13)
    filters = Filters(after="2016-01-01", before="2019-01-01")
    times = []
    with Index.open(location.name, location.home) as ix:  # type: ignore[attr-defined]
        ix.search("a first query", text=queries[0], filters=filters)  # the model loaded, the filter's ids kept
        for i in range(runs):
            words = queries[i] if i % 2 else f"w{int(rng.integers(30_000)):05d}"
            t0 = time.perf_counter()
            ix.search(f"a drawing of part number {i}", text=words, filters=filters, k=10)
            times.append(time.perf_counter() - t0)
    return {"hybrid_ms_p50": round(statistics.median(times) * 1000, 2),
            "hybrid_ms_p95": round(float(np.percentile(times, 95)) * 1000, 2)}  # fmt: skip


def engine_part(folder: Path, items: int, url: str | None = None) -> dict[str, object]:
    """Full text, the filtered vector search and the hybrid search on one synthetic index."""
    started = time.perf_counter()
    store, queries, vi, data = synthetic_store(folder, items, url)
    part: dict[str, object] = {"build_s": round(time.perf_counter() - started, 1)}
    part.update(bench_fulltext(store.catalog, queries))  # type: ignore[attr-defined]
    part.update(bench_filtered(store.catalog, vi, data))  # type: ignore[attr-defined]
    location = store.location  # type: ignore[attr-defined]
    store.close()  # type: ignore[attr-defined]
    del vi, data
    part.update(bench_hybrid(location, queries))
    return part


def run(items: int, work: Path, ocr: bool = True) -> dict[str, object]:
    """`make bench`'s text part: OCR (``ocr``), then the SQLite catalog's figures."""
    from clipsearch.models.planner import cpu_signature

    result: dict[str, object] = {"cpu": cpu_signature(), "text_items": items}
    if ocr:
        result.update(bench_ocr())
        print("ocr:", result, flush=True)
    part = engine_part(work / "sqlite", items)
    result["text_catalog_build_s"] = part.pop("build_s")
    result.update(part)
    print("text:", result, flush=True)
    return result


def run_engines(items: int, work: Path) -> dict[str, object]:
    """The full-text, filter and hybrid parts on SQLite and on PostgreSQL, the same synthetic index."""
    import pgserver

    from clipsearch.models.planner import cpu_signature

    result: dict[str, object] = {"cpu": cpu_signature(), "text_items": items}
    os.environ.setdefault("PGPASSWORD", pgserver.PASSWORD)  # the index keeps its URL without it
    with pgserver.running() as server:
        for engine, url in (("sqlite", None), ("postgresql", server.create_database("text"))):
            result[engine] = engine_part(work / engine, items, url)
            print(engine, result[engine], flush=True)
    return result


if __name__ == "__main__":
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--postgresql", action="store_true", help="full text and filters on both engines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps((run_engines if args.postgresql else run)(args.items, Path(tmp))))
