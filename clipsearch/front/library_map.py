"""The map of an index, as the front ends show it: groups named with the index's own categories
too, items with their paths (``clipsearch map``, ``GET /api/map``, the Map view)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..models.encoder import Encoder
    from ..query.maps import LibraryMap
    from ..store.folder import IndexStore


class _Index(Protocol):
    """What this module needs of an ``Index`` (which calls it: no import back)."""

    store: IndexStore
    query_encoder: Callable[[], Encoder]


def map_of(ix: _Index, categories: frozenset[str], *, rebuild: bool = False, language: str = "en") -> LibraryMap:
    """The index's map as its catalog is now (cached, brought up to date, or drawn; see
    ``query/maps.py``); the names of its ``categories`` name groups beside the built-in vocabulary
    in ``language``."""
    from ..query.maps import current

    return current(ix.store, ix.query_encoder, sorted(categories), rebuild=rebuild, language=language)


def as_dict(ix: _Index, library: LibraryMap, *, items: bool = True) -> dict[str, Any]:
    """The JSON of a map: how it was drawn, its groups (each with a representative item), and,
    with ``items``, every item's place and group (``x``, ``y`` in 0..1, ``cluster`` -1: none)."""
    from ..query.search import display_path

    ids = [int(i) for i in library.ids]
    shown = {c.representative for c in library.clusters} | (set(ids) if items else set())
    rows = ix.store.catalog.get(sorted(shown))

    def where(item_id: int) -> str:
        row = rows.get(item_id)
        return display_path(row.path, row.page, row.time) if row is not None else ""

    out: dict[str, Any] = {
        "method": library.method,
        "count": len(ids),
        "placed_by_neighbours": library.placed,
        "seconds": library.seconds,
        "unclustered": int((library.cluster < 0).sum()),
        "clusters": [
            {"id": c.id, "label": c.label, "phrases": c.phrases, "size": c.size, "x": c.x, "y": c.y,
             "representative": {"id": c.representative, "path": where(c.representative)}}
            for c in library.clusters
        ],
    }  # fmt: skip
    if items:
        out["items"] = [
            {"id": i, "path": where(i), "x": round(float(x), 4), "y": round(float(y), 4), "cluster": int(g)}
            for i, (x, y), g in zip(ids, library.xy, library.cluster, strict=True)
        ]
    return out
