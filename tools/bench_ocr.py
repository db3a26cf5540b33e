"""`make bench`, text in drawings: which OCR reads our drawings, measured on them.

For each engine (PP-OCRv4 inside ``rapidocr-onnxruntime``, PP-OCRv6 small inside ``rapidocr`` 3.10,
clipsearch's own reading on top of the chosen one, and each engine behind its seam alone:
``clipsearch-rapidocr``, ``clipsearch-tesseract``), each corpus raster drawing is read once, its
text put in a real catalog, and each label of the drawing's sidecar CSV (edocr2's ground truth)
searched with ``search --text``'s own code: a label counts when its drawing is among the hits.
Labels are counted per kind (horizontal, vertical, diameter, tolerance), with ms per page.
Run alone: ``python tools/bench_ocr.py [--engines v4,v6,clipsearch,clipsearch-tesseract]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from clipsearch.models.planner import cpu_signature

DRAWINGS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "drawings"


def labels_of(sidecar: Path) -> list[tuple[str, str]]:
    """(label, kind) of a sidecar CSV: x1,y1,...,x4,y4,text rows; 'other_info' rows are not labels."""
    out = []
    for row in csv.reader(sidecar.open(encoding="utf-8")):
        if len(row) < 9 or row[8] == "other_info":
            continue
        xs, ys = [float(v) for v in row[0:8:2]], [float(v) for v in row[1:8:2]]
        out.append((row[8], kind_of(row[8], xs, ys)))
    return sorted(set(out))


def kind_of(label: str, xs: list[float], ys: list[float]) -> str:
    """diameter (⌀ in it), tolerance (a ± or a stacked +/- pair), vertical (its box taller than
    wide, or turned past 45°), else horizontal."""
    if "⌀" in label or "Ø" in label:
        return "diameter"
    if "±" in label or re.search(r"[+-]\d", label):
        return "tolerance"
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    if abs(dy) > abs(dx) or (dx == 0 and height > width):
        return "vertical"
    return "horizontal"


def engines() -> dict[str, Callable[[], Callable[[Any], str]]]:
    """name -> a function that builds a reader (picture -> text)."""

    def v4() -> Callable[[Any], str]:
        from rapidocr_onnxruntime import RapidOCR

        ocr = RapidOCR()

        def read(image: Any) -> str:
            found, _ = ocr(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))
            return "\n".join(str(t) for _, t, _ in (found or []))

        return read

    def v6() -> Callable[[Any], str]:
        from rapidocr import RapidOCR

        ocr = RapidOCR(params={"Global.log_level": "error"})

        def read(image: Any) -> str:
            return "\n".join(ocr(np.asarray(image)).txts or ())

        return read

    def ours(name: str) -> Callable[[], Callable[[Any], str]]:
        def build() -> Callable[[Any], str]:
            from clipsearch.ingest.ocrpool import OcrPool

            engine = OcrPool(name).engine()
            return lambda image: engine.read(image)

        return build

    from clipsearch.ingest.textreader import ENGINES

    # each engine behind the seam, read as the text pass reads: 'clipsearch' is the default (auto)
    return {"v4": v4, "v6": v6, "clipsearch": ours("auto"), **{f"clipsearch-{n}": ours(n) for n in ENGINES}}


def measure(name: str, build: Callable[[], Callable[[Any], str]], work: Path) -> dict[str, Any]:
    from PIL import Image
    from samples import synthetic_item

    from clipsearch.store.catalog import Catalog
    from clipsearch.store.extras import Extras

    read = build()
    catalog = Catalog(work / f"{name}.sqlite")
    pictures = sorted(p for p in DRAWINGS.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    seconds = []
    items = []
    for picture in pictures:
        image = Image.open(picture).convert("RGB")
        started = time.perf_counter()
        body = read(image)
        seconds.append(time.perf_counter() - started)
        extras = Extras(text=body, text_source="ocr", ocr_mode="all")
        items.append(synthetic_item(str(picture), np.zeros(4, np.float32), extras=extras))
    catalog.commit_batch(add=items)
    ids = {r.path: r.id for r in catalog.items()}
    found: dict[str, list[int]] = {}
    for picture in pictures:
        for label, kind in labels_of(picture.with_suffix(".csv")):
            hit = any(h.item_id == ids[str(picture)] for h in catalog.search_text(label, 10))
            found.setdefault(kind, [0, 0])
            found[kind][0] += hit
            found[kind][1] += 1
    catalog.close()
    total = [sum(v[0] for v in found.values()), sum(v[1] for v in found.values())]
    return {"labels_found": f"{total[0]}/{total[1]}", "by_kind": {k: f"{a}/{b}" for k, (a, b) in sorted(found.items())},
            "ms_per_page": round(1000 * float(np.median(seconds)), 1), "pages": len(pictures)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="v4,v6,clipsearch")
    args = parser.parse_args()
    out: dict[str, Any] = {"cpu": cpu_signature()}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.engines.split(","):
            try:
                out[name] = measure(name, engines()[name], Path(tmp))
            except ImportError as err:
                out[name] = f"not measured: {err}"
            print(name, out[name], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
