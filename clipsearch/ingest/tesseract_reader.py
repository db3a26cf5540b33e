"""Tesseract behind :class:`~.textreader.TextReader`: Debian's ``tesseract-ocr`` with its language
packs (``tesseract-ocr-rus``), run as a program (one process a call, nothing kept in this one).

Under ``--ocr-engine auto`` it reads again the lines RapidOCR read with doubt in a script RapidOCR
lacks (PP-OCR has no Cyrillic: "Чертёж" comes out "HepTéx"); ``--ocr-engine tesseract`` reads every
picture with it alone. Crops to recognise go to one process on one white sheet, stacked, and
each word is given back to its crop by height: a process start costs more than a line's reading.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from .textreader import Line, ReaderAbilities, TextReader

#: The language packs used where installed, and the scripts each reads.
LANGUAGES = {"eng": "Latn", "rus": "Cyrl"}
#: Seconds one Tesseract process may take (a large page reads in a few).
TIMEOUT = 120


class TesseractReader(TextReader):
    """Tesseract with every installed language of :data:`LANGUAGES` at once."""

    name = "tesseract"
    abilities = ReaderAbilities(scripts=frozenset(LANGUAGES.values()))

    def __init__(self, threads: int | None = None, *, read_side: int = 2000) -> None:
        langs = [lang for lang in LANGUAGES if installed(lang)]
        self._langs = "+".join(langs) or "eng"
        # narrowed to what is installed: a helper is only asked for the scripts it really reads
        self.abilities = ReaderAbilities(scripts=frozenset(LANGUAGES[lang] for lang in langs))
        del threads, read_side  # one process a call, with Tesseract's own threads, on the picture given

    @classmethod
    def available(cls) -> str | None:
        if shutil.which("tesseract") is None:
            return "Tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-rus)"
        if not any(installed(lang) for lang in LANGUAGES):
            return f"Tesseract has none of its languages {', '.join(LANGUAGES)} installed"
        return None

    def read(self, picture: Any) -> list[Line]:
        words = _words(self._run(picture, psm=3))
        lines: dict[tuple[str, str, str], list[tuple[int, int, int, int, float, str]]] = {}
        for block, par, line, box_and_word in words:
            lines.setdefault((block, par, line), []).append(box_and_word)
        out: list[Line] = []
        for parts in lines.values():
            x0, y0 = min(p[0] for p in parts), min(p[1] for p in parts)
            x1, y1 = max(p[0] + p[2] for p in parts), max(p[1] + p[3] for p in parts)
            score = sum(p[4] for p in parts) / len(parts) / 100
            out.append(([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], " ".join(p[5] for p in parts), score))
        return out

    def recognise(self, crops: Sequence[Any]) -> list[tuple[str, float]]:
        from PIL import Image

        if not crops:
            return []
        spans, y = [], 10
        for crop in crops:
            spans.append((y, y + crop.height))
            y += crop.height + 20
        sheet = Image.new("RGB", (max(c.width for c in crops) + 20, y), "white")
        for crop, (top, _) in zip(crops, spans, strict=True):
            sheet.paste(crop.convert("RGB"), (10, top))
        found: list[list[tuple[str, float]]] = [[] for _ in crops]
        for _, _, _, (_, top, _, height, conf, word) in _words(self._run(sheet, psm=4)):
            centre = top + height / 2
            for i, (start, end) in enumerate(spans):
                if start <= centre <= end:
                    found[i].append((word, conf))
                    break
        return [(" ".join(w for w, _ in ws), sum(c for _, c in ws) / len(ws) / 100) if ws else ("", 0.0)
                for ws in found]  # fmt: skip

    def _run(self, picture: Any, psm: int) -> str:
        """Tesseract's TSV for ``picture`` (empty where the program fails: no text, not an error)."""
        buf = io.BytesIO()
        picture.save(buf, "PNG", compress_level=1)  # Tesseract decodes it at once: no time spent packing it
        try:
            done = subprocess.run(
                ["tesseract", "stdin", "stdout", "-l", self._langs, "--psm", str(psm), "tsv"],
                input=buf.getvalue(), capture_output=True, timeout=TIMEOUT,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.decode("utf-8", "replace")


def _words(tsv: str) -> list[tuple[str, str, str, tuple[int, int, int, int, float, str]]]:
    """The words of Tesseract's TSV: (block, paragraph, line, (left, top, width, height, conf, word))."""
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < 0:
            continue
        box = (int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]), float(cols[10]), cols[11])
        words.append((cols[2], cols[3], cols[4], box))
    return words


@functools.cache
def installed(language: str) -> bool:
    """Whether a ``tesseract`` program with ``language``'s data is installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return False
    try:
        done = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return language in done.stdout.split()
