"""What every text-reading engine gives the text pass: the :class:`TextReader` interface, the
:class:`ReaderAbilities` it declares, and the engines by name (``--ocr-engine``).

The text pass (``ocr.py``) decides *what* to read (the gate's lines, a page whole, a second look a
quarter turned, the lines another engine should read again); an engine only detects and reads.
Each engine lives in a module of its own with its library's quirks inside it (``rapid_reader.py``:
RapidOCR and PP-OCR, ``tesseract_reader.py``: Tesseract), so a new engine is one module, one line
in :data:`ENGINES` and a test; ``tests/fakes.py`` has one that reads no pixels at all.

Pictures go in as PIL images in RGB; lines come out in that picture's pixels.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import UsageError

#: A box as fractions of the picture's width and height: (x0, y0, x1, y1).
Region = tuple[float, float, float, float]
#: A line read: its corner points in the read picture's pixels, its text, its confidence (0..1).
Line = tuple[list[tuple[float, float]], str, float]


@dataclass(frozen=True, kw_only=True)
class ReaderAbilities:
    """What an engine reads, declared once so the text pass can plan around what it lacks.

    - ``scripts``: the writing systems it reads (ISO 15924: ``Latn``, ``Cyrl``, ``Hans``); lines it
      reads with doubt are offered to an engine that has a script it lacks (``ocr.TextEngine``);
    - ``turns``: the angles of text it reads by itself (PP-OCR's classifier turns 180°, not 90°):
      where 90 is missing, a page gets a second look turned a quarter round;
    - ``detects``: it finds lines itself (else it only recognises the crops it is given).
    """

    scripts: frozenset[str]
    turns: frozenset[int] = frozenset({0})
    detects: bool = True


class TextReader(ABC):
    """One engine, used by one thread at a time (``ocrpool.py`` sees to it), made as
    ``cls(threads, read_side=...)``: the cores it may use (None: its runtime's default) and the
    longest side of the pictures it will be given."""

    #: The name ``--ocr-engine`` knows it by.
    name: ClassVar[str]
    #: What it reads; an instance may narrow its class's (Tesseract: the languages installed).
    abilities: ReaderAbilities

    def __init__(self, threads: int | None = None, *, read_side: int = 2000) -> None:
        """An engine that needs neither (a program run per call) keeps this one."""
        del threads, read_side

    @abstractmethod
    def read(self, picture: Any) -> list[Line]:
        """Every line of ``picture`` (PIL, RGB): where it stands, its text, how sure the engine is."""

    @abstractmethod
    def recognise(self, crops: Sequence[Any]) -> list[tuple[str, float]]:
        """The text of each crop (PIL, RGB), each holding one line, upright: (text, confidence);
        ("", 0.0) where it reads nothing."""

    @property
    def runtime(self) -> str:
        """What runs its models (``openvino``, ``onnxruntime``, a program's name), for reports."""
        return self.name

    @classmethod
    def available(cls) -> str | None:
        """None where the engine can run here, else why not in one line (a missing program)."""
        return None


class TextDetector(ABC):
    """Where a picture holds lines of text, without reading them: the text pass's gate."""

    @abstractmethod
    def find_lines(self, picture: Any) -> list[Region]:
        """The lines of ``picture`` (PIL RGB, or a BGR array as ``gatecache.load`` reads it), as
        fractions of its size."""

    @property
    def runtime(self) -> str:
        return type(self).__name__


#: The engines ``--ocr-engine`` offers, by name: 'module:class' under ``clipsearch.ingest``, imported
#: only when chosen. 'auto' is RapidOCR, with Tesseract reading again the lines in scripts
#: RapidOCR lacks, where it is installed.
ENGINES = {
    "rapidocr": "rapid_reader:RapidReader",
    "tesseract": "tesseract_reader:TesseractReader",
}
#: The choices of ``--ocr-engine``.
OCR_ENGINES = ("auto", *ENGINES)
#: Makes an engine for a thread given the cores it may use (None: the runtime's default).
ReaderFactory = Callable[[int | None], TextReader]


def engine_named(name: str) -> str:
    """``name`` if ``--ocr-engine`` offers it (:data:`OCR_ENGINES`); else UsageError naming the choices."""
    if name not in OCR_ENGINES:
        raise UsageError(f"no OCR engine {name!r}: choose one of {', '.join(OCR_ENGINES)}")
    return name


def reader_class(name: str) -> type[TextReader]:
    """The engine called ``name`` (a key of :data:`ENGINES`); UsageError names the choices."""
    where = ENGINES.get(engine_named(name))
    if where is None:  # 'auto' is no engine of its own
        raise UsageError(f"no OCR engine {name!r}: choose one of {', '.join(ENGINES)}")
    module, cls = where.split(":")
    return getattr(importlib.import_module(f".{module}", __package__), cls)
