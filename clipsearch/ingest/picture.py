"""The picture of any item, whatever kind of file holds it: an image, a PDF page, a video frame.

One place for every reader that shows or re-embeds an item (thumbnails, terminal previews, ``check
--repair``), so each kind of file is opened the way the indexer opened it.
"""

from __future__ import annotations

from typing import Any

from .images import load_image
from .pdf import RENDER_LONG_SIDE, is_pdf_path, render_pages
from .video import frame_at, is_video_path


def item_picture(
    path: str, page: int = 0, time: float | None = None, size: int = 256, source: str | None = None
) -> Any:
    """The upright RGB picture of item (``path``, ``page``, ``time``), at least ``size`` on its
    shortest side where the file allows; raises ImageLoadError with the reason otherwise.

    ``source``: where to read the bytes, when not ``path`` itself (the server passes a file it has
    opened and checked, as ``/proc/self/fd/N``); ``path`` still says what kind of file it is."""
    source = source or path
    if time is not None or is_video_path(path):
        return frame_at(source, time or 0.0, name=path)
    if page or is_pdf_path(path):  # rendered as the indexer renders pages, so its vector comes out the same
        pages = render_pages(source, name=path, pages=[page or 1], long_side=max(RENDER_LONG_SIDE, 2 * size))
        return next(pages)[1]
    return load_image(source, size, name=path)


def is_document(path: str, page: int) -> bool:
    """Whether the item is a page (letterboxed for the model, as the indexer did), not a photo or frame."""
    return bool(page) and is_pdf_path(path)
