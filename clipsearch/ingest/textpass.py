"""The text pass: the second phase of an index run, reading the text of pictures already searchable.

The first phase (``indexer.py``) embeds and commits every new or changed file without OCR, so a
library is searchable by meaning at the model's full speed. This pass then reads the pictures and
scanned pages whose text the index's ``--ocr`` mode wants and that are not read yet (``ocr_mode``
weaker than the mode; see ``Catalog.text_waiting``), and commits what it read in short
transactions. Interrupted (Ctrl-C, SIGTERM, a crash), it loses no vector and at most a few seconds
of text; the next ``index``, ``watch`` or ``serve --watch`` carries on with what still waits.

The gate (the text detector on :data:`~.gate.GATE_SIDE`) looks at the small copy phase one kept
(``gatecache.py``); a picture is decoded large only when the gate found text. A picture that OCR
fails on, or that takes longer than ``timeout`` seconds, keeps its vector and is marked with its
reason (``text_error``) and never holds up the pass (its thread finishes on its own; the pass waits
for it only at its very end). A picture OCR failed on is not read again until its bytes change; one
that ran out of time (a busy machine is enough) waits for the next run, :data:`OCR_TRIES` runs in all.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ImageLoadError, UsageError
from ..store.catalog import ItemRow, TextRead
from ..store.folder import IndexStore
from . import gatecache
from .extract import read_text
from .gate import GATE_SIDE
from .images import load_image
from .ocr import READ_SIDE, TextLine
from .ocrpool import OcrPool
from .pdf import RENDER_LONG_SIDE, is_pdf_path, render_pages
from .pool import DaemonPool

#: Pictures handed to each worker ahead of the oldest not yet done. Results are taken in order, so a
#: slow picture (the reader's first start, a drawing page) holds up the commits behind it, not the
#: other workers: with two ahead, a worker that had finished its few sat idle until the slow one
#: was done (py-spy: a second of a core at the start of a pass over photos).
AHEAD = 16
#: Called with (pictures read, pictures to read) as the pass goes.
TextProgress = Callable[[int, int], None]


@dataclass
class TextReport:
    #: pictures and pages whose text was read (with or without text found)
    read: int = 0
    #: of those, how many hold text
    with_text: int = 0
    #: marked "text unreadable": OCR failed or ran past the time limit (their vectors are kept)
    unreadable: int = 0
    #: left for the next run: the file changed or vanished since phase one
    changed: int = 0
    seconds: float = 0.0
    #: ``{"path", "reason"}`` of each picture marked "text unreadable" in this pass
    unreadable_files: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Result:
    row: ItemRow
    text: str | None = None
    error: str | None = None
    #: Each line's text and box, as the catalog keeps them (``store/extras.py``: JSON).
    boxes: str | None = None
    changed: bool = False
    #: ran out of time, and will be read again on the next run (:data:`OCR_TRIES`)
    retry: bool = False


#: Runs that try a picture whose OCR runs past ``--ocr-timeout`` before it is marked unreadable for good.
OCR_TRIES = 3
_TRY = re.compile(r"\(try (\d+) of \d+\)")


def read_texts(
    store: IndexStore,
    mode: str,
    *,
    workers: int | None = None,
    timeout: float = 60.0,
    commit_every: int = 64,
    commit_seconds: float = 5.0,
    progress: TextProgress | None = None,
    ocr: OcrPool | None = None,
) -> TextReport:
    """Read the text of every item of ``store`` that OCR ``mode`` ('auto' or 'all') still wants,
    with ``ocr``'s engines (None: the default engines, made for this pass). The caller holds the
    writer lock."""
    started = time.perf_counter()
    report = TextReport()
    kept = store.path / gatecache.FOLDER
    waiting = store.catalog.text_waiting(mode) if mode in ("auto", "all") else []
    if progress and waiting:
        progress(0, len(waiting))
    if not waiting:
        gatecache.clear(kept)
        return report
    workers = workers or max(1, min(len(waiting), os.cpu_count() or 2))
    ocr = ocr or OcrPool()
    ocr.share(workers)  # each worker's engine its share of the cores, no more
    pool = DaemonPool(workers, "clipsearch-text", initializer=ocr.engine)
    pending: deque[tuple[ItemRow, Any]] = deque()
    batch: list[TextRead] = []
    last = time.monotonic()
    it = iter(waiting)

    def submit() -> None:
        row = next(it, None)
        if row is not None:
            pending.append((row, pool.submit(_read_one, ocr, row, mode, kept)))

    for _ in range(AHEAD * workers):
        submit()
    try:
        done = 0
        while pending:
            row, task = pending.popleft()
            result = task.result(timeout)
            if result is None:
                pool.replace_stuck()
                result = _out_of_time(store, row, timeout)
            submit()
            done += 1
            if result.changed:
                report.changed += 1
            else:
                _count(report, result)
                done_in = None if result.retry else mode  # None: still waiting, read on the next run
                batch.append(TextRead(row.id, row.content_hash, result.text, done_in, result.error, result.boxes))
                gatecache.drop(gatecache.path_for(kept, row.content_hash, row.page))
            if len(batch) >= commit_every or (batch and time.monotonic() - last >= commit_seconds):
                store.catalog.commit_texts(batch)
                batch, last = [], time.monotonic()
            if progress:
                progress(done, len(waiting))
    finally:
        # A picture given up on still runs on its thread: wait for it (OCR's work is bounded by the
        # picture's size), so ONNX Runtime is never torn down under it at exit.
        pool.shutdown(wait=None)
        if batch:  # what was read before an interruption is kept
            store.catalog.commit_texts(batch)
    if not report.changed:
        gatecache.clear(kept)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _out_of_time(store: IndexStore, row: ItemRow, timeout: float) -> _Result:
    """A picture whose OCR ran past ``timeout``: tried again on the next run, up to :data:`OCR_TRIES`
    runs (the count kept in its reason), then unreadable until its bytes change."""
    before = store.catalog.extras([row.id]).get(row.id)
    seen = _TRY.search((before.text_error if before else None) or "")
    tries = (int(seen.group(1)) if seen else 0) + 1
    error = f"OCR took longer than {timeout:g} s (see --ocr-timeout) (try {tries} of {OCR_TRIES})"
    return _Result(row, error=error, retry=tries < OCR_TRIES)


def _count(report: TextReport, result: _Result) -> None:
    report.read += 1
    report.with_text += bool(result.text)
    if result.error is not None:
        report.unreadable += 1
        row = result.row
        path = f"{row.path}#page={row.page}" if row.page else row.path
        report.unreadable_files.append({"path": path, "reason": result.error})


def _lines_read(row: ItemRow, lines: list[TextLine]) -> _Result:
    if not lines:
        return _Result(row, text="")
    return _Result(
        row, text="\n".join(text for text, _ in lines), boxes=json.dumps([[*box, text] for text, box in lines])
    )


def decode_for_reading(data: bytes, name: str) -> Any:
    """A picture file's bytes decoded for OCR: :data:`~.ocr.READ_SIDE` on its longest side at most,
    a JPEG at the DCT scale that gives it (a 12 MP photo at 1/2, never decoded whole to be shrunk)."""
    return load_image(io.BytesIO(data), None, 0, name=name, long_side=READ_SIDE)


class FileChanged(Exception):
    """The file changed or vanished since phase one: left for the next run, which embeds it again."""


def unchanged_bytes(row: ItemRow) -> bytes:
    """The file's bytes, as long as it is the file phase one embedded (its size and mtime)."""
    try:
        with open(row.path, "rb") as f:
            st = os.fstat(f.fileno())
            if (st.st_size, st.st_mtime_ns) != (row.size, row.mtime_ns):
                raise FileChanged
            return f.read()
    except OSError as err:
        raise FileChanged from err


def _read_one(ocr: OcrPool, row: ItemRow, mode: str, kept: Path) -> _Result:
    """The text of one item, read from its file as it is now (a file that changed since phase one
    is left for the next run). The gate looks at phase one's small copy where there is one; the
    file itself is read only when the gate found lines too small in that copy (or there is none)."""
    try:
        st = os.stat(row.path)
    except OSError:
        return _Result(row, changed=True)
    if (st.st_size, st.st_mtime_ns) != (row.size, row.mtime_ns):
        return _Result(row, changed=True)
    name = f"{row.path}#page={row.page}" if row.page else row.path
    small = gatecache.load(gatecache.path_for(kept, row.content_hash, row.page))
    page = [row.page or 1]
    data = functools.cache(lambda: unchanged_bytes(row))  # read once, and only if a decode needs it
    try:
        if is_pdf_path(row.path):

            def render(side: int) -> Any:
                return next(render_pages(data(), name=row.path, pages=page, long_side=side))[1]

            def full() -> Any:
                return render(READ_SIDE)

            seen = small if small is not None else render(RENDER_LONG_SIDE)
        else:

            def full() -> Any:
                return decode_for_reading(data(), row.path)

            seen = small if small is not None else load_image(io.BytesIO(data()), GATE_SIDE, 0, name=row.path)
        return _lines_read(row, read_text(ocr.engine(), mode, seen, full, name))
    except FileChanged:
        return _Result(row, changed=True)
    except ImageLoadError as err:
        return _Result(row, error=err.reason)
    except UsageError:  # the engine could not start: the pass stops, every picture still waiting
        raise
    except MemoryError:
        return _Result(row, error="out of memory reading its text")
    except Exception as err:  # whatever a decoder or the engine raises: this picture's reason, not the pass's end
        return _Result(row, error=f"cannot read its text: {type(err).__name__}: {str(err)[:120]}")
