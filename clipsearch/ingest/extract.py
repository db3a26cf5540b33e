"""The text and metadata of each item of a file, beside its picture (see ``decode.py``).

- A PDF page's text comes from its text layer (PDFium), read with the page; a page without one (a
  scan) and a picture wait for the text pass (``textpass.py``), which reads them by OCR after every
  picture is searchable by meaning. ``ocr_mode`` says how far an item's text is read: 'none' until
  the text pass reads it, 'all' where OCR could add nothing (a text layer).
- Metadata: ``metadata.py``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ImageLoadError, UsageError
from ..store.extras import Extras
from .metadata import metadata
from .ocr import TextEngine, TextLine, looks_like_a_page, readable_as_seen
from .pdf import document_facts

log = logging.getLogger(__name__)


def read_text(engine: TextEngine, mode: str, seen: Any, full: Callable[[], Any], name: object) -> list[TextLine]:
    """The lines ``engine`` reads under ``mode`` ('auto' or 'all'), with their boxes: none when the gate
    finds no line of text.

    ``seen``: the picture at least :data:`~.gate.GATE_SIDE` on its longest side, for the gate
    (PIL, or a BGR array: ``gatecache.load``);
    ``full``: decodes it again large enough to read small print, called only when needed (not
    when the gate's lines are large enough in ``seen`` already: :func:`~.ocr.readable_as_seen`). Raises
    ImageLoadError with the reason when the engine fails on this picture."""
    try:
        regions = engine.find_lines(seen)
    except UsageError:
        raise
    except Exception as err:
        raise _engine_fault(name, err) from err
    if mode == "auto" and not regions:
        return []
    if isinstance(seen, np.ndarray):  # phase one's copy as the gate took it (BGR)
        from PIL import Image

        seen = Image.fromarray(np.ascontiguousarray(seen[:, :, ::-1]))
    page = looks_like_a_page(seen)
    # decoding again is the caller's: its faults (and a file changed meanwhile) are its own to say
    picture = seen if readable_as_seen(seen, regions, page) else full()
    try:
        return engine.read_lines(picture, name, regions or None, page=page)
    except (ImageLoadError, UsageError):  # a picture's reason, or the engine's that stops the pass
        raise
    except Exception as err:
        raise _engine_fault(name, err) from err


def _engine_fault(name: object, err: Exception) -> ImageLoadError:
    """An engine fault on one picture, as that picture's reason (the pass goes on)."""
    return ImageLoadError(name, f"OCR failed: {type(err).__name__}: {str(err)[:120]}")


def image_extras(path: str, data: bytes, mtime_ns: int) -> Extras:
    """Metadata of a picture file; its text waits for the text pass (``ocr_mode`` 'none')."""
    extras = metadata(path, data, mtime_ns)
    extras.ocr_mode = "none"
    return extras


def pdf_extras(path: str, data: bytes, mtime_ns: int, pages: list[int]) -> dict[int, Extras]:
    """Metadata and text layer of each page in ``pages`` of a PDF file; a page without a text layer
    (a scan) waits for the text pass."""
    texts, created = document_facts(data, name=path, pages=pages)
    facts = metadata(path, data, mtime_ns, pdf_date=created)  # the file's, the same for every page
    out: dict[int, Extras] = {}
    for number in pages:
        extras = dataclasses.replace(facts)
        layer = texts.get(number, "").strip()
        if layer:
            extras.text, extras.text_source, extras.ocr_mode = layer, "pdf", "all"
        else:
            extras.ocr_mode = "none"
        out[number] = extras
    return out
