"""How people name things to the front door: a model (flags or environment), a page of a PDF or a
frame of a video inside a path (``doc.pdf#page=3``, ``clip.mp4#t=12.5``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..config import ModelChoice

if TYPE_CHECKING:
    from ..models.registry import ModelRef
    from ..store.catalog import Catalog, ItemRow


def requested_model(model: str | ModelChoice | None, pretrained: str | None = None) -> ModelRef | None:
    """The :class:`ModelRef` asked for by ``model`` or the environment, or None if nothing was asked."""
    from ..models.registry import resolve_model_ref

    choice = model if isinstance(model, ModelChoice) else ModelChoice(model, pretrained)
    choice = choice.from_environment()
    return resolve_model_ref(choice.name, choice.pretrained) if choice.asked else None


def embeds_by_model(model: str | ModelChoice | None, index: str | None) -> bool:
    """Whether ``embed`` uses a model rather than an index's: one named by ``model``, or, where no
    index is named (``index``, ``$CLIPSEARCH_INDEX``), ``$CLIPSEARCH_MODEL``. A named index keeps
    its own model whatever the environment says."""
    from ..config import setting

    choice = model if isinstance(model, ModelChoice) else ModelChoice(model)
    if choice.asked:
        return True
    return index is None and setting("index") is None and requested_model(None) is not None


def parse_item_ref(spec: str) -> tuple[str, int | None, float | None]:
    """``"doc.pdf#page=3"`` -> (path, 3, None); ``"clip.mp4#t=12.5"`` -> (path, None, 12.5); an
    existing file's own name is never split (a file may be called ``a#t=1.jpg``)."""
    if os.path.exists(spec):
        return spec, None, None
    return _split(spec)


def _split(spec: str) -> tuple[str, int | None, float | None]:
    path, sep, frag = spec.rpartition("#t=")
    if sep and path:
        try:
            return path, None, float(frag)
        except ValueError:
            pass
    path, sep, frag = spec.rpartition("#page=")
    if sep and frag.isdigit() and path:
        return path, int(frag), None
    return spec, None, None


def indexed_item(catalog: Catalog, ref: str, page: int | None = None) -> ItemRow:
    """The indexed item that ``ref`` names as results show it (``/abs/doc.pdf#page=3``,
    ``clip.mp4#t=12.5``, a picture's path), found in the catalog alone: the file is not opened, so a
    client that names a path reaches only what the library holds (the MCP server's ``similar``)."""
    from ..errors import IndexNotFoundError

    rows = catalog.find_path(ref)
    path, in_page, in_time = (ref, None, None) if rows else _split(ref)
    rows = rows or catalog.find_path(path)
    page = page if page is not None else in_page
    if page is not None:
        rows = [r for r in rows if r.page == page]
    if in_time is not None and rows:
        rows = [min(rows, key=lambda r: abs((r.time or 0.0) - in_time))]
    if not rows:
        raise IndexNotFoundError(f"{ref} is not in the index: give a path or id from the results, or the picture")
    return min(rows, key=lambda r: (r.page or 0, r.time or 0.0))
