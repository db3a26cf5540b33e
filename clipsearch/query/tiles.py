"""Search by a part of a picture among the tiles of pages (``index --region tiles``).

A crop query over whole-page vectors finds pages that look like the crop as a whole. A detail
inside big sheets (a bolt pattern, a symbol on a drawing) is found in the tiles instead: every page
indexed with tiles keeps 3 x 3 overlapping tile vectors (``config.TILES``), and an item scores by
its best tile when that beats its whole-page score. The hit then says which tile matched (``box``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..config import TILES
from ..store.vectors import VectorIndex

if TYPE_CHECKING:
    from ..store.folder import IndexStore
    from .filters import Filters

_NAMES = tuple(TILES)


class Searcher(Protocol):
    """What this module needs of ``search.Searcher`` (which calls it: no import back)."""

    store: IndexStore

    def region_cache(self) -> dict[str, Any]: ...

    def selection(self, filters: Filters | None) -> tuple[np.ndarray | None, np.ndarray]: ...

    def results(self, hits: Sequence[tuple[int, float]]) -> list[Any]: ...


def tile_index(searcher: Searcher) -> VectorIndex | None:
    """Every stored tile vector in one index, ids ``item * 9 + tile``; None when no page has tiles.
    Kept until the catalog changes (as region indexes are)."""
    cache = searcher.region_cache()
    if "tiles" not in cache:
        store = searcher.store
        vi = VectorIndex.create(store.model.dim)
        for t, name in enumerate(_NAMES):
            ids, vectors = store.catalog.region_vectors(name, store.model.dim)
            vi.add(np.asarray(ids, np.int64) * len(_NAMES) + t, vectors)
        cache["tiles"] = vi if vi.ntotal else None
    return cache["tiles"]


def best_tiles(
    searcher: Searcher, query: np.ndarray, k: int, exclude_ids: Sequence[int], filters: Filters | None
) -> dict[int, tuple[float, str]]:
    """The ``k`` items whose best tile is nearest ``query``: {item id: (cosine, tile name)}."""
    vi = tile_index(searcher)
    if vi is None:
        return {}
    n = len(_NAMES)
    allow, deny = searcher.selection(filters)
    deny = np.concatenate([np.asarray(exclude_ids, np.int64), deny])

    def tiles_of(ids: np.ndarray) -> np.ndarray:
        return (ids[:, None] * n + np.arange(n)).ravel()

    scores, codes = vi.search(query[None, :], k * n, allow=None if allow is None else tiles_of(allow),
                              deny=tiles_of(deny) if len(deny) else None)  # fmt: skip
    best: dict[int, tuple[float, str]] = {}
    for code, score in zip(codes[0], scores[0], strict=True):
        if code >= 0:
            item, t = divmod(int(code), n)
            if item not in best or score > best[item][0]:
                best[item] = (float(score), _NAMES[t])
    return dict(sorted(best.items(), key=lambda kv: -kv[1][0])[:k])


def with_tiles(
    searcher: Searcher, whole: list[Any], query: np.ndarray, k: int, min_score: float | None,
    exclude_ids: Sequence[int], filters: Filters | None,
) -> list[Any]:  # fmt: skip
    """``whole`` (hits by whole pictures) merged with the hits by tiles: each item at its better
    score; an item found by a tile says which (``box``)."""
    tiles = best_tiles(searcher, query, k, exclude_ids, filters)
    if not tiles:
        return whole
    scores = {r.id: r.score for r in whole}
    for item, (score, _) in tiles.items():
        scores[item] = max(scores.get(item, -1.0), score)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if min_score is not None:
        ranked = [(i, s) for i, s in ranked if s >= min_score]
    out = []
    for r in searcher.results(ranked)[:k]:  # a tile whose item is gone (not a result) takes no place
        tile = tiles.get(r.id)
        won = tile is not None and tile[0] >= next((w.score for w in whole if w.id == r.id), -1.0)
        out.append(replace(r, box=list(TILES[tile[1]]), match="tile") if won and tile else r)
    return out
