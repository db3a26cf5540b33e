"""Reading the text in pictures and scanned pages, offline; engines chosen by measurement on our
drawings (``tools/bench_ocr.py``; the figures, their CPU and how to rerun them: docs/benchmarks.md).

- **The gate** (``gate.py``): PaddleOCR's PP-OCRv4 mobile detector on the picture shrunk to
  :data:`~.gate.GATE_SIDE`, so a photo without text costs one small detection. Its lines also say
  *where* the text is: a photo's sign is then read crop by crop, not as a page.
- **The reader**: PP-OCRv6 small, detector and recogniser (``rapidocr`` 3.10, inside its wheel,
  Apache-2.0). Against v4 on the corpus drawings it finds more labels (its dictionary has ⌀ and
  ∅, it keeps the spaces between words, it reads rotated text better) for more time a page
  (`make bench`: the ocr labels found and ms a page, docs/text-search.md). Its models run on
  OpenVINO (``ocr_runtime.py``), the recogniser in bf16 where the CPU has it. A photo's sign is read
  from the gate's small copy when its letters are large there (:func:`readable_as_seen`), else
  from the file decoded again at :data:`READ_SIDE`.
- **A second look** a quarter turn round, for pages with many lines (drawings, scans): vertical
  dimensions are printed turned 90° and the 0/180° classifier cannot turn them.
- **Tesseract** (Debian's ``tesseract-ocr`` with ``tesseract-ocr-rus``), where installed, reads again
  the lines PP-OCR read with low confidence: PP-OCR has no Cyrillic, and turns Russian into Latin
  look-alikes ("Чертёж" -> "HepTéx"). All such lines of a page go to one Tesseract process.

One gate per thread, each with a share of the cores (:func:`set_threads`): a runtime's default
takes every core per model, and two such fight. Readers are shared, one thread at a time each
(:class:`Readers`: a RapidOCR instance is not thread-safe).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ImageLoadError
from .gate import GATE_SIDE, detector, gate_input

#: Longest side read: small print on a drawing needs it; larger scans are shrunk to it.
READ_SIDE = 2000
#: A picture that is no page and whose gate finds at most this many lines is read region by region
#: (a sign in a photo, a label on a box): the gate's lines recognised alone, no second detection.
CROP_LINES = 12
#: A crop's reading below this confidence is the gate's false alarm (grain, a texture): dropped, not
#: offered to Tesseract (and see ``_kept_crop``). Noise on the bench photos reads at 0.28-0.49; a
#: Cyrillic line PP-OCR cannot spell at 0.74, a sign at 0.98-1.0.
CROP_SCORE = 0.6
#: From this many lines a picture gets a second look turned a quarter round, page or not.
SECOND_LOOK_LINES = 15
#: Longest side of the second look: turned labels are as large as the others, and the first look
#: has read the small print already.
SECOND_LOOK_SIDE = 1400
#: Lines of the second look kept: confident ones the first look did not read.
SECOND_LOOK_SCORE = 0.9
#: PP-OCR lines below this confidence (or with gaps, see ``_doubtful``) are offered to Tesseract's
#: Cyrillic model.
RETRY_BELOW = 0.95
_CYRILLIC = frozenset(chr(c) for c in range(0x0400, 0x0500))

#: A box as fractions of the picture's width and height: (x0, y0, x1, y1).
Region = tuple[float, float, float, float]
#: A line read: its corner points in the read picture's pixels, its text, its confidence.
Line = tuple[list[tuple[float, float]], str, float]
#: A line as read: its text and where it stands (a :data:`Region` of the picture).
TextLine = tuple[str, Region]


class OcrEngine:
    """The gate's detector, for one thread (:func:`engine` gives each thread its own), and reading
    with a reader borrowed from :data:`READERS`."""

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._gate = detector(threads)

    # ------------------------------------------------------------------ the gate
    def find_lines(self, image: Any) -> list[Region]:
        """Where the detector finds lines of text in ``image`` (PIL, any size), as fractions."""
        array = gate_input(image)
        preds = self._gate.infer(array)[0]
        h, w = array.shape[2:]
        boxes, _ = self._gate.postprocess_op(preds, (h, w))
        boxes = self._gate.filter_tag_det_res(boxes, (h, w))
        if boxes is None or not len(boxes):
            return []
        return [(float(b[:, 0].min()) / w, float(b[:, 1].min()) / h, float(b[:, 0].max()) / w,
                 float(b[:, 1].max()) / h) for b in np.asarray(boxes)]  # fmt: skip

    def has_text(self, image: Any) -> bool:
        """Whether the detector finds any line of text in ``image`` (PIL, any size)."""
        return bool(self.find_lines(image))

    # ------------------------------------------------------------------ reading
    def read(
        self, image: Any, name: object = None, regions: list[Region] | None = None, page: bool | None = None
    ) -> str:
        """The text of ``image``, line by line, top to bottom (see :meth:`read_lines`)."""
        return "\n".join(text for text, _ in self.read_lines(image, name, regions, page))

    def read_lines(
        self, image: Any, name: object = None, regions: list[Region] | None = None, page: bool | None = None
    ) -> list[TextLine]:
        """The lines of ``image`` top to bottom, each with where it stands: (text, (x0, y0, x1, y1)
        in fractions of the picture's width and height), so a result can show where its words are.

        ``page``: whether it is a page (a drawing, a scan: :func:`looks_like_a_page`; None: look). A
        page is read whole, then a quarter turned for its vertical labels. A picture that is no page
        with a few small ``regions`` (the gate's lines: a sign in a photo) has just those read."""
        page = looks_like_a_page(image) if page is None else page
        big = _at_most(image.convert("RGB") if image.mode != "RGB" else image, READ_SIDE)
        try:
            with READERS.borrow(self._threads) as reader:
                if _read_by_lines(regions, page):
                    lines = _read_crops(reader, big, regions)
                else:
                    lines = _lines(reader, big)
                    if page or len(lines) >= SECOND_LOOK_LINES:
                        lines += _new_lines(lines, _quarter_turned(reader, big))
        except Exception as err:  # the engine's own failure on this picture: skip its text only
            raise ImageLoadError(name, f"OCR failed: {str(err)[:120]}") from err
        retry = [i for i, (_, text, score) in enumerate(lines) if _doubtful(text, score)]
        if retry and tesseract_reads("rus"):
            better = _tesseract_lines(big, [lines[i][0] for i in retry])
            for i, text in zip(retry, better, strict=True):
                if sum(c in _CYRILLIC for c in text) >= 3:  # a word of Russian, not one look-alike
                    lines[i] = (lines[i][0], text, 1.0)
        lines.sort(key=lambda line: (round(min(p[1] for p in line[0]) / 20), min(p[0] for p in line[0])))
        return [(text, _fractions(box, big.size)) for box, text, _ in lines if text.strip()]


def _lines(reader: Any, picture: Any) -> list[Line]:
    # every call says use_det: RapidOCR keeps the last call's setting on itself
    out = reader(np.ascontiguousarray(np.asarray(picture)[:, :, ::-1]), use_det=True)
    if out.boxes is None or not out.txts:
        return []
    return [([(float(x), float(y)) for x, y in box], str(text), float(score))
            for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True)]  # fmt: skip


def _read_crops(reader: Any, big: Any, regions: list[Region]) -> list[Line]:
    """Each region's line recognised alone (the gate found it already: no second detection),
    padded so no letter is cut, turned upright when it stands tall; in ``big``'s pixels."""
    from PIL import Image

    lines: list[Line] = []
    for x0, y0, x1, y1 in _padded(regions, big.width, big.height):
        crop = big.crop((x0, y0, x1, y1))
        if crop.height > 1.5 * crop.width:
            crop = crop.transpose(Image.Transpose.ROTATE_270)
        out = reader(np.ascontiguousarray(np.asarray(crop)[:, :, ::-1]), use_det=False)
        for text, score in zip(out.txts or (), out.scores or (), strict=False):
            if _kept_crop(str(text), float(score)):
                lines.append(([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], str(text), float(score)))
    return lines


def _quarter_turned(reader: Any, big: Any) -> list[Line]:
    """The lines of ``big`` turned 90° clockwise, their boxes put back in ``big``'s pixels."""
    from PIL import Image

    small = _at_most(big, SECOND_LOOK_SIDE)
    turned = _lines(reader, small.transpose(Image.Transpose.ROTATE_270))  # a quarter turn clockwise
    k = big.height / small.height
    return [([(y * k, big.height - 1 - x * k) for x, y in box], text, score) for box, text, score in turned]


#: A picture this much near-white (grey level above 200) is paper: a drawing, a scan, a page. Measured
#: on the corpus: drawings 0.89-0.96, photos 0.00-0.31 (a dark horse on white, 0.66).
PAGE_WHITE = 0.75
#: A page is at least this large on its longest side: smaller pictures on white (icons, logos,
#: clip-art, the tests' shapes) hold no small print, and reading them as pages (whole, then a quarter
#: turned) cost several times a read by the gate's lines, for glyphs ("●" for a circle) either way.
PAGE_MIN_SIDE = 400


def looks_like_a_page(image: Any) -> bool:
    """Whether ``image`` (PIL, any size) is mostly white paper, and large enough to be a page."""
    if max(image.size) < PAGE_MIN_SIDE:
        return False
    small = _at_most(image.convert("L"), GATE_SIDE)
    return float(np.mean(np.asarray(small) > 200)) >= PAGE_WHITE


#: The recogniser reads a line scaled to this height (PP-OCR's 48 px).
REC_HEIGHT = 48
#: A line's crop is padded by this much of its height on each side, so no letter is cut.
CROP_PAD = 0.25


def readable_as_seen(seen: Any, regions: list[Region], page: bool) -> bool:
    """Whether the gate's lines are read from ``seen`` itself: a picture that is no page, read
    line by line (:data:`CROP_LINES`), each line so high already that its padded crop is at least
    the recogniser's :data:`REC_HEIGHT` (a larger decode would only be shrunk back). Large
    lettering, and most of the gate's false alarms on photos (blobs of grain, texture), then cost
    no second decode of the file."""
    if not _read_by_lines(regions, page):
        return False
    shortest = min(min((x1 - x0) * seen.width, (y1 - y0) * seen.height) for x0, y0, x1, y1 in regions)
    return shortest * (1 + 2 * CROP_PAD) >= REC_HEIGHT


def _read_by_lines(regions: list[Region] | None, page: bool) -> bool:
    """Whether a picture is read line by line where the gate found its lines (a sign in a photo,
    a label on a box), not whole: no page, and a few lines (:data:`CROP_LINES`)."""
    return not page and 0 < len(regions or ()) <= CROP_LINES


def _kept_crop(text: str, score: float) -> bool:
    """Whether a crop's reading is text, not the gate's false alarm: confident enough, and two
    letters or digits, or one read with :data:`RETRY_BELOW` confidence (a "P" sign). Grain read as a
    lone glyph ("：" at 0.90, "一" at 0.77 on the bench photos) is dropped."""
    letters = sum(c.isalnum() for c in text)
    return score >= CROP_SCORE and (letters >= 2 or (letters == 1 and score >= RETRY_BELOW))


def _doubtful(text: str, score: float) -> bool:
    """Whether Tesseract should read a line again: PP-OCR was unsure, or left gaps where it had no
    letter for what it saw (PP-OCRv6 reads a Cyrillic word as blanks: "Масштаб 1:2" -> " 1:2")."""
    if not text.strip():
        return False
    return score < RETRY_BELOW or "  " in text or text != text.strip()


def _at_most(image: Any, side: int) -> Any:
    """``image`` itself where its longest side is at most ``side``, else a shrunk copy (the
    caller's picture is never changed)."""
    from PIL import Image

    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _padded(regions: list[Region], width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Pixel boxes around ``regions``, padded by :data:`CROP_PAD` of a line's height (at least 4 px)."""
    boxes = []
    for x0, y0, x1, y1 in regions:
        pad = max(4.0, CROP_PAD * min((x1 - x0) * width, (y1 - y0) * height))
        boxes.append((int(max(0, x0 * width - pad)), int(max(0, y0 * height - pad)),
                      int(min(width, x1 * width + pad)), int(min(height, y1 * height + pad))))  # fmt: skip
    return boxes


def _fractions(box: Any, size: tuple[int, int]) -> Region:
    """A line's corner points as (x0, y0, x1, y1), fractions of a ``size`` picture, within 0..1."""
    w, h = size
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    clip = lambda v: round(min(1.0, max(0.0, v)), 4)  # noqa: E731
    return (clip(min(xs) / w), clip(min(ys) / h), clip(max(xs) / w), clip(max(ys) / h))


def _new_lines(seen: list[Line], second: list[Line]) -> list[Line]:
    """Confident lines of a second look whose text the first look did not read (case and spaces aside)."""
    known = {"".join(text.casefold().split()) for _, text, _ in seen}
    return [line for line in second
            if line[2] >= SECOND_LOOK_SCORE and "".join(line[1].casefold().split()) not in known]  # fmt: skip


_THREADS: int | None = None
_LOCAL = threading.local()


def set_threads(threads: int | None) -> None:
    """Cores each thread's engine uses from now on (None: ONNX Runtime's default, every core): the
    text pass sets cores / workers before its workers start."""
    global _THREADS
    _THREADS = threads


def engine() -> OcrEngine:
    """This thread's OCR engine, loaded on first use (its models take a while to open)."""
    current = getattr(_LOCAL, "engine", None)
    if current is None or getattr(_LOCAL, "threads", None) != _THREADS:
        current = _LOCAL.engine = OcrEngine(_THREADS)
        _LOCAL.threads = _THREADS
    return current


#: A thread that needs a reader while every one made is busy waits this long for one to come free
#: before it starts another: a photo's few lines read in a fraction of it, a reader's start costs
#: a core more than twice it (`make bench`: stages_ms), a drawing page reads in seconds.
READER_WAIT = 0.25


class Readers:
    """PP-OCRv6 readers, shared by the threads that read text (a RapidOCR instance serves one thread
    at a time). Most pictures a pass over photos reads are a sign's few lines, read in a moment:
    one reader serves both workers, where each worker starting its own cost the pass its start
    (py-spy: each worker's gates stopped while its reader started; docs/benchmarks.md). A thread that waited
    :data:`READER_WAIT` for the readers made starts one more, so pages (seconds each) get one per
    worker. Readers are started on first need (most photos need none) and kept for later passes
    (``watch``, ``serve``), for the cores per engine of the latest :func:`set_threads`."""

    def __init__(self) -> None:
        self._free = threading.Condition()
        self._idle: list[Any] = []
        self._made = 0  # started or being started, for ``_threads`` cores each
        self._starting = 0
        self._threads: int | None = None

    @contextlib.contextmanager
    def borrow(self, threads: int | None) -> Iterator[Any]:
        """A reader with ``threads`` cores, this thread's alone until the block ends."""
        reader = self._take(threads)
        try:
            yield reader
        finally:
            with self._free:
                if threads == self._threads:
                    self._idle.append(reader)
                    self._free.notify()

    def _take(self, threads: int | None) -> Any:
        with self._free:
            if threads != self._threads:  # another width: the readers of the old one are let go
                self._idle, self._made, self._threads = [], 0, threads
            waited = 0.0
            while not self._idle and self._made and (self._starting or waited < READER_WAIT):
                began, starting = time.monotonic(), self._starting
                self._free.wait(None if starting else READER_WAIT - waited)
                if not starting:  # the time a reader took to start is no wait for a busy one
                    waited += time.monotonic() - began
            if self._idle:
                return self._idle.pop()
            self._made += 1
            self._starting += 1
        try:
            from .ocr_runtime import reader

            return reader(threads, READ_SIDE)
        except BaseException:  # not started: the next picture that needs one tries again
            with self._free:
                if threads == self._threads:
                    self._made -= 1
            raise
        finally:
            with self._free:
                self._starting -= 1
                self._free.notify_all()


READERS = Readers()


def default_threads(workers: int) -> int:
    """Cores per engine when ``workers`` threads read at once."""
    return max(1, (os.cpu_count() or 2) // max(1, workers))


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
    sheet.save(buf, "PNG", compress_level=1)  # Tesseract decodes it at once: no time spent packing it
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
