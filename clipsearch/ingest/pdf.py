"""PDF pages as pictures: every page of a PDF is one searchable item, rendered with pypdfium2.

PDFium is not thread-safe, and the indexer decodes in threads, so every call into it holds one
process-wide lock. Encrypted, corrupt and empty PDFs raise :class:`ImageLoadError` with a reason.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from typing import IO

from PIL import Image

from ..config import DEFAULT_MAX_PAGES
from ..errors import ImageLoadError

PDF_EXTENSIONS = frozenset({".pdf"})
#: Longest side of a rendered page: enough for the model and for a corner region crop.
RENDER_LONG_SIDE = 1024
_PDFIUM_LOCK = threading.Lock()


def is_pdf_path(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in PDF_EXTENSIONS


def _open(source: str | os.PathLike[str] | bytes | IO[bytes], name: object):  # type: ignore[no-untyped-def]
    import pypdfium2 as pdfium

    data = source.read() if hasattr(source, "read") else source  # type: ignore[union-attr]
    try:
        return pdfium.PdfDocument(data if isinstance(data, bytes) else os.fspath(data))
    except pdfium.PdfiumError as err:
        text = str(err)
        # PDFium's last error is process-wide and can be stale: a password error counts only when
        # the file declares encryption (an empty file after an encrypted one is not encrypted).
        encrypted = b"/Encrypt" in data if isinstance(data, bytes) else True
        if "password" in text.lower() and encrypted:
            raise ImageLoadError(name, "encrypted PDF (password protected)") from err
        if "password" in text.lower():
            raise ImageLoadError(name, "cannot read PDF: not a PDF, or damaged") from err
        detail = text.split("(PDFium: ")[-1].rstrip(").")
        if detail.strip().lower() == "success":  # pdfium set no error (its code is global and can be stale)
            detail = "PDF has no pages or a damaged page tree"
        raise ImageLoadError(name, f"cannot read PDF: {detail}") from err


def page_count(source: str | os.PathLike[str] | bytes, name: object = None) -> int:
    with _PDFIUM_LOCK:
        doc = _open(source, name if name is not None else source)
        try:
            return len(doc)
        finally:
            doc.close()


def render_pages(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    name: object = None,
    pages: list[int] | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    long_side: int = RENDER_LONG_SIDE,
) -> Iterator[tuple[int, Image.Image]]:
    """Yield (1-based page number, RGB image) for ``pages`` (default: the first ``max_pages``)."""
    name = name if name is not None else source
    if isinstance(source, io.BytesIO):
        source = source.getvalue()
    with _PDFIUM_LOCK:
        doc = _open(source, name)
        try:
            total = len(doc)
            if total == 0:
                raise ImageLoadError(name, "PDF has no pages")
            wanted = pages if pages is not None else list(range(1, min(total, max_pages) + 1))
            for number in wanted:
                if not 1 <= number <= total:
                    raise ImageLoadError(name, f"no page {number} (the PDF has {total})")
                try:
                    page = doc[number - 1]
                except Exception as err:  # a page tree that loops or points nowhere
                    raise ImageLoadError(name, f"cannot read page {number}: damaged page tree ({err})") from err
                try:
                    width, height = page.get_size()
                    scale = long_side / max(width, height, 1.0)
                    image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil().convert("RGB")
                except Exception as err:  # pdfium raises plain errors for damaged page content
                    raise ImageLoadError(name, f"cannot render page {number}: {err}") from err
                finally:
                    page.close()
                yield number, image
        finally:
            doc.close()


def document_facts(
    source: str | os.PathLike[str] | bytes, *, name: object = None, pages: list[int] | None = None
) -> tuple[dict[int, str], str | None]:
    """(page number -> text layer, the document's CreationDate) for ``pages`` (default: all).

    A page whose text layer can't be read counts as having none (it will be read by OCR)."""
    name = name if name is not None else source
    texts: dict[int, str] = {}
    with _PDFIUM_LOCK:
        doc = _open(source, name)
        try:
            try:
                created = doc.get_metadata_dict().get("CreationDate") or None
            except Exception:  # damaged info dictionary: no date
                created = None
            for number in pages if pages is not None else range(1, len(doc) + 1):
                if not 1 <= number <= len(doc):
                    continue
                page = doc[number - 1]
                try:
                    textpage = page.get_textpage()
                    texts[number] = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
                    textpage.close()
                except Exception:  # pdfium raises plain errors for damaged content streams
                    texts[number] = ""
                finally:
                    page.close()
        finally:
            doc.close()
    return texts, created
