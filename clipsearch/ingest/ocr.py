"""Reading the text in pictures and scanned pages, offline.

Two engines, each where it is strong (measured on the corpus drawings, 2-core AMD EPYC with AVX-512:
RapidOCR found 39 of 80 dimension labels in 13.6 s, Tesseract 5 (eng+rus+chi_sim) 26 in 29.6 s):
- **RapidOCR** (``rapidocr-onnxruntime``: PaddleOCR's PP-OCRv4 detector and Chinese/Latin recogniser,
  shipped inside its wheel, run by ONNX Runtime) finds the lines of text and reads Latin, digits and
  Chinese.
- **Tesseract** (Debian's ``tesseract-ocr`` with ``tesseract-ocr-rus``), where installed, reads again
  the lines PP-OCR read with low confidence: PP-OCR has no Cyrillic, and turns Russian into Latin
  look-alikes ("Чертёж" -> "HepTéx"). All such lines of a page go to one Tesseract process.

The detector alone, on the picture shrunk to :data:`GATE_SIDE`, is the ``--ocr auto`` gate: ~28 ms
a photo, so a photo without text costs little, and a scanned page is read whatever the model thinks
it shows.
"""

from __future__ import annotations

import copy
import functools
import io
import shutil
import subprocess
import threading
from typing import Any

import numpy as np

from ..errors import ImageLoadError

#: Longest side the gate's detector sees: drawings and pages still show text boxes at this size
#: (every corpus drawing did; at 320 px most did not).
GATE_SIDE = 480
#: Longest side read: small print on a drawing needs it; larger scans are shrunk to it.
READ_SIDE = 2400
#: PP-OCR lines below this confidence are offered to Tesseract's Cyrillic model.
RETRY_BELOW = 0.95
_CYRILLIC = frozenset(chr(c) for c in range(0x0400, 0x0500))


class OcrEngine:
    """Text detection and reading; one per process (:func:`engine`), safe to call from threads."""

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._ocr = RapidOCR()
        # The gate: the same detector session, sized by us (limit_type 'min' at the image's own side).
        self._gate = copy.copy(self._ocr.text_det)
        self._gate.limit_type = "min"
        self._gate_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def has_text(self, image: Any) -> bool:
        """Whether the detector finds any line of text in ``image`` (PIL, any size)."""
        from PIL import Image

        scale = GATE_SIDE / max(image.size)  # up or down: the detector needs text of a readable size
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        array = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR))[:, :, ::-1]
        with self._gate_lock:  # the detector keeps per-call state on itself
            self._gate.limit_side_len = max(32, min(array.shape[:2]))
            boxes, _ = self._gate(np.ascontiguousarray(array))
        return boxes is not None and len(boxes) > 0

    def read(self, image: Any, name: object = None) -> str:
        """The text of ``image``, line by line, top to bottom."""
        big = image.convert("RGB")
        big.thumbnail((READ_SIDE, READ_SIDE))
        array = np.ascontiguousarray(np.asarray(big)[:, :, ::-1])
        try:
            with self._read_lock:
                found, _ = self._ocr(array)
        except Exception as err:  # the engine's own failure on this picture: skip its text only
            raise ImageLoadError(name, f"OCR failed: {str(err)[:120]}") from err
        lines = [(box, str(text), float(score)) for box, text, score in (found or [])]
        retry = [i for i, (_, text, score) in enumerate(lines) if score < RETRY_BELOW and text.strip()]
        if retry and tesseract_reads("rus"):
            better = _tesseract_lines(big, [lines[i][0] for i in retry])
            for i, text in zip(retry, better, strict=True):
                if sum(c in _CYRILLIC for c in text) >= 3:  # a word of Russian, not one look-alike
                    lines[i] = (lines[i][0], text, 1.0)
        lines.sort(key=lambda line: (round(min(p[1] for p in line[0]) / 20), min(p[0] for p in line[0])))
        return "\n".join(text for _, text, _ in lines if text.strip())


@functools.cache
def engine() -> OcrEngine:
    """The process's OCR engine, loaded on first use (~0.4 s)."""
    return OcrEngine()


@functools.cache
def tesseract_reads(language: str) -> bool:
    """Whether a ``tesseract`` binary with ``language``'s data is installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return False
    try:
        done = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return language in done.stdout.split()


def _tesseract_lines(image: Any, boxes: list[Any]) -> list[str]:
    """Read each box of ``image`` with Tesseract (rus+eng) in one run: the crops stacked on one
    white sheet, words assigned back to their crop by height."""
    from PIL import Image

    crops, spans, y = [], [], 10
    for box in boxes:
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        pad = max(4, int((max(ys) - min(ys)) * 0.2))
        crop = image.crop((max(0, min(xs) - pad), max(0, min(ys) - pad), max(xs) + pad, max(ys) + pad))
        crops.append((crop, y))
        spans.append((y, y + crop.height))
        y += crop.height + 20
    sheet = Image.new("RGB", (max(c.width for c, _ in crops) + 20, y), "white")
    for crop, top in crops:
        sheet.paste(crop, (10, top))
    buf = io.BytesIO()
    sheet.save(buf, "PNG")
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", "rus+eng", "--psm", "4", "tsv"],
            input=buf.getvalue(), capture_output=True, timeout=120,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ["" for _ in boxes]
    words: list[list[str]] = [[] for _ in boxes]
    for row in done.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < 0:
            continue
        centre = int(cols[7]) + int(cols[9]) / 2
        for i, (top, bottom) in enumerate(spans):
            if top <= centre <= bottom:
                words[i].append(cols[11])
                break
    return [" ".join(w) for w in words]
