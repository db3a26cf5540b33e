"""The picture of any item, whatever kind of file holds it: an image, a PDF page, a video frame.

One place for every reader that shows or re-embeds an item (thumbnails, terminal previews, ``check
--repair``), so each kind of file is opened the way the indexer opened it.
"""

from __future__ import annotations

from typing import Any

from .images import load_image
from .pdf import RENDER_LONG_SIDE, is_pdf_path, render_pages
from .video import frame_at, is_video_path


def item_picture(path: str, page: int = 0, time: float | None = None, size: int = 256) -> Any:
    """The upright RGB picture of item (``path``, ``page``, ``time``), at least ``size`` on its
    shortest side where the file allows; raises ImageLoadError with the reason otherwise."""
    if time is not None or is_video_path(path):
        return frame_at(path, time or 0.0)
    if page or is_pdf_path(path):  # rendered as the indexer renders pages, so its vector comes out the same
        return next(render_pages(path, pages=[page or 1], long_side=max(RENDER_LONG_SIDE, 2 * size)))[1]
    return load_image(path, size)


def is_document(path: str, page: int) -> bool:
    """Whether the item is a page (letterboxed for the model, as the indexer did), not a photo or frame."""
    return bool(page) and is_pdf_path(path)
