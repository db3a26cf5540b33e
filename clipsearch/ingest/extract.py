"""The text and metadata of each item of a file, beside its picture (see ``decode.py``).

- A PDF page's text comes from its text layer (PDFium); a page without one (a scan) is read by OCR.
- A picture's text is read by OCR (``ocr.py``) as ``--ocr`` says: ``none`` never, ``all`` always,
  ``auto`` where the text detector finds a line (the gate costs ~30-70 ms a photo; a photo without
  text costs no more).
- Metadata: ``metadata.py``.

An OCR failure leaves that item's text unknown (``None``) and the run goes on.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable
from typing import Any

from ..errors import ImageLoadError
from ..store.extras import Extras
from .images import load_image
from .metadata import metadata
from .ocr import GATE_SIDE, READ_SIDE, engine
from .pdf import document_facts, render_pages

log = logging.getLogger(__name__)


def ocr_text(mode: str, seen: Any, full: Callable[[], Any], name: object) -> str | None:
    """What OCR reads under ``mode``: None when it did not look (or failed), '' when it found none.

    ``seen``: the picture as decoded for the model (at least :data:`~.ocr.GATE_SIDE` when OCR is
    on); ``full``: decodes it again large enough to read small print, called only when needed.
    """
    if mode == "none":
        return None
    try:
        if mode == "auto" and not engine().has_text(seen):
            return ""
        return engine().read(full(), name)
    except ImageLoadError as err:
        log.warning("%s", err)
        return None
    except Exception as err:  # an engine fault on one picture must not stop a run
        log.warning("OCR failed on %s: %s", name, str(err)[:160])
        return None


def decode_size(model_size: int, ocr: str) -> int:
    """The shortest side to decode a picture at: the model's, or the OCR gate's when OCR is on."""
    return max(model_size, GATE_SIDE if ocr != "none" else 0)


def image_extras(path: str, data: bytes, mtime_ns: int, image: Any, ocr: str, max_megapixels: float) -> Extras:
    """Metadata and text of a picture file, ``image`` being its decoded picture."""
    extras = metadata(path, data, mtime_ns)

    def full() -> Any:
        return load_image(io.BytesIO(data), READ_SIDE, max_megapixels, name=path)

    extras.text = ocr_text(ocr, image, full, path)
    extras.text_source = "ocr" if extras.text is not None else None
    extras.ocr_mode = ocr
    return extras


def pdf_extras(path: str, data: bytes, mtime_ns: int, images: dict[int, Any], ocr: str) -> dict[int, Extras]:
    """Metadata and text of each page in ``images`` (page number -> its render) of a PDF file."""
    texts, created = document_facts(data, name=path, pages=list(images))
    facts = metadata(path, data, mtime_ns, pdf_date=created)  # the file's, the same for every page
    out: dict[int, Extras] = {}
    for number, image in images.items():
        extras = dataclasses.replace(facts)
        layer = texts.get(number, "").strip()
        if layer:
            extras.text, extras.text_source = layer, "pdf"
        else:  # a scanned page: its text is in its pixels

            def full(number: int = number) -> Any:
                return next(render_pages(data, name=path, pages=[number], long_side=READ_SIDE))[1]

            extras.text = ocr_text(ocr, image, full, f"{path}#page={number}")
            extras.text_source = "ocr" if extras.text else None
        extras.ocr_mode = ocr
        out[number] = extras
    return out
