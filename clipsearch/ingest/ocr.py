"""Reading the text in pictures and scanned pages, offline: what to read, with engines chosen by
measurement on our drawings (``tools/bench_ocr.py``; the figures, their CPU and how to rerun
them: docs/benchmarks.md). The engines sit behind :class:`~.textreader.TextReader`; this module
plans around what each declares it can do (:class:`~.textreader.Abilities`).

- **The gate** (``gate.py``): PaddleOCR's PP-OCRv4 mobile detector on the picture shrunk to
  :data:`~.gate.GATE_SIDE`, so a photo without text costs one small detection. Its lines also say
  *where* the text is: a photo's sign is then read crop by crop, not as a page.
- **The reader** (``--ocr-engine``; by default RapidOCR's PP-OCRv6, ``rapid_reader.py``). A photo's
  sign is read from the gate's small copy when its letters are large there
  (:func:`readable_as_seen`), else from the file decoded again at :data:`READ_SIDE`.
- **A second look** a quarter turn round, for pages with many lines (drawings, scans), where the
  reader does not turn text on its side itself: vertical dimensions are printed turned 90°.
- **A helper** for the scripts the reader lacks (Tesseract's Cyrillic beside PP-OCR, which turns
  Russian into Latin look-alikes: "Чертёж" -> "HepTéx"): it reads again the lines the reader was
  unsure of, all of a page's at once.

Engines and threads are handed down by an :class:`~.ocrpool.OcrPool`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ImageLoadError, UsageError
from .gate import GATE_SIDE
from .textreader import Line, Region, TextDetector, TextReader

__all__ = ["READ_SIDE", "Region", "TextEngine", "TextLine", "kept_crop", "looks_like_a_page", "readable_as_seen"]

#: Longest side read: small print on a drawing needs it; larger scans are shrunk to it.
READ_SIDE = 2000
#: A picture that is no page and whose gate finds at most this many lines is read region by region
#: (a sign in a photo, a label on a box): the gate's lines recognised alone, no second detection.
CROP_LINES = 12
#: A crop's reading below this confidence is the gate's false alarm (grain, a texture): dropped, not
#: offered to the helper (and see :func:`kept_crop`). Noise on the bench photos reads at 0.28-0.49;
#: a Cyrillic line PP-OCR cannot spell at 0.74, a sign at 0.98-1.0.
CROP_SCORE = 0.6
#: From this many lines a picture gets a second look turned a quarter round, page or not.
SECOND_LOOK_LINES = 15
#: Longest side of the second look: turned labels are as large as the others, and the first look
#: has read the small print already.
SECOND_LOOK_SIDE = 1400
#: Lines of the second look kept: confident ones the first look did not read.
SECOND_LOOK_SCORE = 0.9
#: Lines read below this confidence (or with gaps, see ``_doubtful``) are offered to the helper.
RETRY_BELOW = 0.95
#: Letters of the scripts a helper may add, by ISO 15924 code: its reading replaces the reader's
#: where it holds at least three of them (a word, not one look-alike).
SCRIPT_LETTERS = {
    "Cyrl": frozenset(chr(c) for c in range(0x0400, 0x0500)),
    "Grek": frozenset(chr(c) for c in range(0x0370, 0x0400)),
    "Arab": frozenset(chr(c) for c in range(0x0600, 0x0700)),
    "Hebr": frozenset(chr(c) for c in range(0x0590, 0x0600)),
}

#: A line as read: its text and where it stands (a :data:`Region` of the picture).
TextLine = tuple[str, Region]


class TextEngine:
    """What one thread reads with: its own ``gate``, a ``reader`` borrowed for each picture (from
    ``borrow``: a context manager, see ``ocrpool.Readers``), and a ``helper`` for the scripts the
    reader lacks (None: none)."""

    def __init__(self, gate: TextDetector, borrow: Any, helper: TextReader | None = None) -> None:
        self.gate = gate
        self._borrow = borrow
        self.helper = helper

    # ------------------------------------------------------------------ the gate
    def find_lines(self, image: Any) -> list[Region]:
        """Where the gate finds lines of text in ``image`` (PIL, any size), as fractions."""
        return self.gate.find_lines(image)

    def has_text(self, image: Any) -> bool:
        """Whether the gate finds any line of text in ``image`` (PIL, any size)."""
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
            with self._borrow() as reader:
                if _read_by_lines(regions, page):
                    lines = _read_crops(reader, big, regions)
                else:
                    lines = reader.read(big)
                    if (page or len(lines) >= SECOND_LOOK_LINES) and 90 not in reader.abilities.turns:
                        lines += _new_lines(lines, _quarter_turned(reader, big))
                scripts = reader.abilities.scripts
        except UsageError:  # the engine could not start: no picture's fault (``ocrpool._started``)
            raise
        except Exception as err:  # the engine's own failure on this picture: skip its text only
            raise ImageLoadError(name, f"OCR failed: {str(err)[:120]}") from err
        self._read_again(big, lines, scripts)
        lines.sort(key=lambda line: (round(min(p[1] for p in line[0]) / 20), min(p[0] for p in line[0])))
        return [(text, _fractions(box, big.size)) for box, text, _ in lines if text.strip()]

    def _read_again(self, big: Any, lines: list[Line], scripts: frozenset[str]) -> None:
        """The lines read with doubt, read again by the helper: its reading kept where it is a word
        in a script the reader lacks."""
        added = [SCRIPT_LETTERS[s] for s in (self.helper.abilities.scripts - scripts if self.helper else ())
                 if s in SCRIPT_LETTERS]  # fmt: skip
        retry = [i for i, (_, text, score) in enumerate(lines) if _doubtful(text, score)] if added else []
        if not retry or self.helper is None:
            return
        better = self.helper.recognise([_line_crop(big, lines[i][0]) for i in retry])
        for i, (text, _) in zip(retry, better, strict=True):
            if any(sum(c in letters for c in text) >= 3 for letters in added):
                lines[i] = (lines[i][0], text, 1.0)


def _line_crop(image: Any, box: list[tuple[float, float]]) -> Any:
    """A line's box cut from ``image``, padded by a fifth of its height (at least 4 px)."""
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    pad = max(4, int((max(ys) - min(ys)) * 0.2))
    return image.crop((max(0, min(xs) - pad), max(0, min(ys) - pad), max(xs) + pad, max(ys) + pad))


def _read_crops(reader: TextReader, big: Any, regions: list[Region]) -> list[Line]:
    """Each region's line recognised alone (the gate found it already: no second detection),
    padded so no letter is cut, turned upright when it stands tall; in ``big``'s pixels."""
    from PIL import Image

    boxes = _padded(regions, big.width, big.height)
    crops = []
    for x0, y0, x1, y1 in boxes:
        crop = big.crop((x0, y0, x1, y1))
        crops.append(crop.transpose(Image.Transpose.ROTATE_270) if crop.height > 1.5 * crop.width else crop)
    return [([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], text, score)
            for (x0, y0, x1, y1), (text, score) in zip(boxes, reader.recognise(crops), strict=True)
            if kept_crop(text, score)]  # fmt: skip


def _quarter_turned(reader: TextReader, big: Any) -> list[Line]:
    """The lines of ``big`` turned 90° clockwise, their boxes put back in ``big``'s pixels."""
    from PIL import Image

    small = _at_most(big, SECOND_LOOK_SIDE)
    turned = reader.read(small.transpose(Image.Transpose.ROTATE_270))  # a quarter turn clockwise
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


def kept_crop(text: str, score: float) -> bool:
    """Whether a crop's reading is text, not the gate's false alarm: confident enough, and two
    letters or digits, or one read with :data:`RETRY_BELOW` confidence (a "P" sign). Grain read as a
    lone glyph ("：" at 0.90, "一" at 0.77 on the bench photos) is dropped."""
    letters = sum(c.isalnum() for c in text)
    return score >= CROP_SCORE and (letters >= 2 or (letters == 1 and score >= RETRY_BELOW))


def _doubtful(text: str, score: float) -> bool:
    """Whether the helper should read a line again: the reader was unsure, or left gaps where it had
    no letter for what it saw (PP-OCRv6 reads a Cyrillic word as blanks: "Масштаб 1:2" -> " 1:2")."""
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
