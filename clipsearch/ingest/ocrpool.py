"""The text pass's engines, handed down as one object (:class:`OcrPool`): which engine reads, how
many cores each thread's engine may use, one gate per thread, and readers shared between threads.

One gate per thread, each with a share of the cores: a runtime's default takes every core per
model, and two such fight. Readers are shared, one thread at a time each (:class:`Readers`: a
RapidOCR instance is not thread-safe). An :class:`~clipsearch.Index` keeps its pool, so ``watch``
and ``serve`` reuse the readers a pass started.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import UsageError
from .ocr import READ_SIDE, TextEngine
from .textreader import ReaderFactory, TextDetector, TextReader, engine_named, reader_class

#: A thread that needs a reader while every one made is busy waits this long for one to come free
#: before it starts another: a photo's few lines read in a fraction of it, a reader's start costs
#: a core more than twice it (`make bench`: stages_ms), a drawing page reads in seconds.
READER_WAIT = 0.25


class OcrPool:
    """The engines of text passes. ``engine``: a name of ``--ocr-engine`` ('auto': RapidOCR, with
    Tesseract for the scripts it lacks where installed). ``reader``, ``gate``, ``helper``: engines
    of one's own instead (a factory given the cores a thread may use; ``tests/fakes.py``)."""

    def __init__(
        self, engine: str = "auto", *, reader: ReaderFactory | None = None,
        gate: Callable[[int | None], TextDetector] | None = None, helper: TextReader | None = None,
    ) -> None:  # fmt: skip
        engine_named(engine)
        for what, given in (("reader", reader), ("gate", gate)):
            if given is not None and (not callable(given) or isinstance(given, TextReader | TextDetector)):
                raise UsageError(f"OcrPool({what}=...) takes what makes one for a thread (its class, or a function "
                                 f"of the cores it may use), not {type(given).__name__} itself")  # fmt: skip
        self.engine_name = engine
        self._own_reader, self._own_helper = reader is not None, helper is not None
        self._make_reader: ReaderFactory | None = reader
        self._make_gate = gate or _gate
        self._helper = helper
        self._checked = False
        self.threads: int | None = None
        self.readers = Readers(self._reader)
        self._local = threading.local()

    def use(self, engine: str) -> None:
        """Read with ``engine`` (a name of ``--ocr-engine``) from now on: the index's remembered
        one. A pool given a reader of its own keeps it."""
        if self._own_reader or engine_named(engine) == self.engine_name:
            return
        self.engine_name, self._make_reader, self._checked = engine, None, False
        self._helper = self._helper if self._own_helper else None
        self.readers, self._local = Readers(self._reader), threading.local()

    def check(self) -> None:
        """Raise :class:`UsageError` where the chosen engine cannot run here (Tesseract missing, a
        reader class's own ``available()``); the writer asks before a run, so the error comes
        before any work. Cheap after the first."""
        if self._checked:
            return
        given = self._make_reader
        if given is None:
            cls = reader_class("rapidocr" if self.engine_name == "auto" else self.engine_name)
            if why := cls.available():
                raise UsageError(f"--ocr-engine {self.engine_name}: {why}")
            self._make_reader = _with_read_side(cls)
        elif isinstance(given, type) and issubclass(given, TextReader) and (why := given.available()):
            raise UsageError(f"the OCR engine {getattr(given, 'name', given.__name__)!r} cannot run here: {why}")
        if not self._own_helper and not self._own_reader and self.engine_name == "auto":
            self._helper = _auto_helper()
        self._checked = True

    def _reader(self, threads: int | None) -> TextReader:
        self.check()
        assert self._make_reader is not None
        return _started("reader", lambda: self._make_reader(threads), ("read", "recognise"))  # type: ignore[misc]

    def share(self, workers: int) -> None:
        """Cores each thread's engine uses from now on: an equal share for ``workers`` threads."""
        self.threads = default_threads(workers)

    def engine(self) -> TextEngine:
        """This thread's engine, made on first use (its models take a while to open)."""
        self.check()
        current = getattr(self._local, "engine", None)
        if current is None or getattr(self._local, "threads", None) != self.threads:
            threads = self.threads
            gate = _started("gate", lambda: self._make_gate(threads), ("find_lines",))
            current = TextEngine(gate, lambda: self.readers.borrow(threads), self._helper)
            self._local.engine, self._local.threads = current, threads
        return current


def _started(what: str, make: Callable[[], Any], methods: tuple[str, ...]) -> Any:
    """An engine part made by ``make``, or :class:`UsageError` saying why it could not start: the
    text pass stops there, leaving every picture waiting, instead of marking each unreadable."""
    try:
        part = make()
    except Exception as err:
        raise UsageError(f"the OCR {what} could not start: {type(err).__name__}: {str(err)[:160]}") from err
    missing = [m for m in methods if not callable(getattr(part, m, None))]
    if missing:
        raise UsageError(f"the OCR {what} made is a {type(part).__name__}, which has no {', '.join(missing)}()")
    return part


def _gate(threads: int | None) -> TextDetector:
    from .gate import Gate

    return Gate(threads)


def _with_read_side(cls: type[TextReader]) -> ReaderFactory:
    """``cls``'s factory, reading pictures up to :data:`~.ocr.READ_SIDE` on their longest side."""
    return lambda threads: cls(threads, read_side=READ_SIDE)


def _auto_helper() -> TextReader | None:
    """Tesseract, where installed, for the scripts RapidOCR lacks (None where it adds none)."""
    tesseract, rapid = reader_class("tesseract"), reader_class("rapidocr")
    if tesseract.available():
        return None
    helper = tesseract()  # type: ignore[call-arg]
    return helper if helper.abilities.scripts - rapid.abilities.scripts else None


def default_threads(workers: int) -> int:
    """Cores per engine when ``workers`` threads read at once."""
    return max(1, (os.cpu_count() or 2) // max(1, workers))


class Readers:
    """Readers shared by the threads that read text (a RapidOCR instance serves one thread at a
    time), made by ``make`` for a number of cores. Most pictures a pass over photos reads are a
    sign's few lines, read in a moment: one reader serves both workers, where each worker starting
    its own cost the pass its start (py-spy: each worker's gates stopped while its reader started).
    A thread that waited :data:`READER_WAIT` for the readers made starts one more, so pages (seconds
    each) get one per worker. Readers are started on first need (most photos need none) and kept
    for later passes, for the cores per engine of the latest borrow."""

    def __init__(self, make: ReaderFactory) -> None:
        self._make = make
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
            return self._make(threads)
        except BaseException:  # not started: the next picture that needs one tries again
            with self._free:
                if threads == self._threads:
                    self._made -= 1
            raise
        finally:
            with self._free:
                self._starting -= 1
                self._free.notify_all()
