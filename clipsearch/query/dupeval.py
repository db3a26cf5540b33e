"""A near-duplicate evaluation set made from real pictures, and pairwise scoring.

Each original (photos, raster drawings, rendered drawing PDFs from the shared corpus) gets edited
copies: a byte-identical copy, half size, JPEG quality 35, a ~6 % border crop, brightness/contrast,
a small text watermark, and white padding. Distinct originals, several technical drawings among
them, are the distractors. Scores are pairwise: every pair of files in one predicted group is a
predicted duplicate pair. :func:`pdf_bytes` writes the small PDFs the document set (``doceval``)
and the tests build.
"""

from __future__ import annotations

import io
import itertools
import shutil
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

EDITS = ("copy", "half", "jpeg35", "crop6", "bright", "watermark", "pad")


def edited(image: Image.Image, edit: str) -> Image.Image:
    w, h = image.size
    if edit == "half":
        return image.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS)
    if edit == "jpeg35":
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=35)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if edit == "crop6":
        dx, dy = int(w * 0.03), int(h * 0.03)
        return image.crop((dx, dy, w - dx, h - dy))
    if edit == "bright":
        return ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(1.25)).enhance(0.85)
    if edit == "watermark":
        marked = image.copy()
        draw = ImageDraw.Draw(marked)
        x, y = int(w * 0.6), int(h * 0.9)
        draw.text((x + 1, y + 1), "(c) 2024 sample", fill=(0, 0, 0))
        draw.text((x, y), "(c) 2024 sample", fill=(255, 255, 255))
        return marked
    if edit == "pad":
        return ImageOps.expand(image, border=(int(w * 0.1), int(h * 0.1)), fill="white")
    raise ValueError(edit)


def originals(corpus: Path) -> Iterable[tuple[str, Path | Image.Image]]:
    from ..ingest.pdf import render_pages

    for path in sorted((corpus / "photos").glob("*")):
        yield path.stem, path
    for path in sorted((corpus / "drawings").iterdir()):
        if path.suffix.lower() in {".jpg", ".png"}:
            yield path.stem, path
        elif path.suffix.lower() == ".pdf":
            yield path.stem, next(render_pages(path))[1]


def build_set(corpus: Path, out: Path, names: Iterable[str] | None = None) -> dict[str, str]:
    """Write originals and edited copies under ``out``; returns {file path: original name}."""
    wanted = set(names) if names is not None else None
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    for name, source in originals(corpus):
        if wanted is not None and name not in wanted:
            continue
        folder = out / name
        folder.mkdir(exist_ok=True)
        if isinstance(source, Path):
            orig = folder / f"original{source.suffix.lower()}"
            shutil.copyfile(source, orig)
            image = Image.open(source).convert("RGB")
        else:
            orig = folder / "original.png"
            source.save(orig)
            image = source
        truth[str(orig)] = name
        for edit in EDITS:
            target = folder / f"{edit}{orig.suffix if edit == 'copy' else '.jpg' if edit == 'jpeg35' else '.png'}"
            if edit == "copy":
                shutil.copyfile(orig, target)
            else:
                edited(image, edit).save(target)
            truth[str(target)] = name
    return truth


def pairwise(groups: Iterable[Iterable[str]], truth: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of predicted groups against the originals' names."""
    predicted = {frozenset(p) for g in groups for p in itertools.combinations(sorted(set(g)), 2)}
    by_name: dict[str, list[str]] = {}
    for path, name in truth.items():
        by_name.setdefault(name, []).append(path)
    actual = {frozenset(p) for paths in by_name.values() for p in itertools.combinations(sorted(paths), 2)}
    tp = len(predicted & actual)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(actual) if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": len(actual),
        "predicted_pairs": len(predicted),
    }


def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF file of ``objects`` (numbered from 1, the first the catalog), with its cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
