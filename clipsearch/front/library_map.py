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
    _query_lock: Any
    _map_lock: Any


def map_of(ix: _Index, categories: frozenset[str], *, rebuild: bool = False, language: str = "en") -> LibraryMap:
    """The index's map as its catalog is now (cached, brought up to date, or drawn; see
    ``query/maps.py``); the names of its ``categories`` name groups beside the built-in vocabulary
    in ``language``. One drawing at a time, under the map's own lock, not the queries': searches
    go on meanwhile (only the model's text encoding waits for them), and while one caller draws,
    the others are shown the last map kept."""
    from ..query.maps import current

    def encoder() -> Encoder:
        return _Serialised(ix.query_encoder(), ix._query_lock)  # type: ignore[return-value]

    if not ix._map_lock.acquire(blocking=False):
        shown = None if rebuild else last_map(ix)
        if shown is not None:
            return shown
        ix._map_lock.acquire()
    try:
        return current(ix.store, encoder, sorted(categories), rebuild=rebuild, language=language)
    finally:
        ix._map_lock.release()


class _Serialised:
    """An encoder whose text encoding waits for the queries' lock (one model, one caller at a time)."""

    def __init__(self, encoder: Encoder, lock: Any) -> None:
        self._encoder, self._lock = encoder, lock

    def encode_texts(self, texts: Any) -> Any:
        with self._lock:
            return self._encoder.encode_texts(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)


def map_languages() -> tuple[str, ...]:
    """The languages the map's groups can be named in (``en``, ``de``, ``ru``, ...)."""
    from ..query.naming import languages

    return languages()


def last_map(ix: _Index) -> LibraryMap | None:
    """The map last kept in the index folder, whole (None: none, or damaged), as drawn then."""
    from ..query.maps import cached

    return cached(ix.store.path)


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
