"""One query from meaning, text and metadata: ``search [QUERY] [--text WORDS] [filters]``.

- QUERY alone ranks by the model (cosine); WORDS alone by full-text relevance (BM25, ``store/fulltext``).
- Both: **reciprocal rank fusion** (Cormack et al., 2009): each list ranks its candidates, an item
  scores ``1/(60 + rank)`` per list it is in, summed. It needs no common scale between a cosine and
  a BM25 score, and an item found by both ranks above one found by either alone. The candidate lists
  are longer than ``k`` (:data:`POOL`), so an item ranked modestly in both still surfaces.
- Neither, with a filter: every item the filters select, newest first.
- ``relevant``: only results the model calls a match (``relevance.py``); ``explain``: each meaning hit
  says the cosine it needs for that; ``sort='date'``: newest first.

Filters apply inside both searches (``filters.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select

from ..errors import UsageError
from ..store.fulltext import snippet
from ..store.schema import ITEMS
from .filters import Filters
from .search import Searcher, SearchResult

#: Reciprocal rank fusion's constant, as in the paper: damps the weight of the first few ranks.
RRF_K = 60
#: Candidates drawn from each list before fusing: k times this (at least 100).
POOL = 5
SORTS = ("score", "date")


def find(
    searcher: Searcher,
    query: str | None,
    *,
    words: str | None = None,
    k: int = 10,
    min_score: float | None = None,
    add: Sequence[str] = (),
    sub: Sequence[str] = (),
    filters: Filters | None = None,
    sort: str = "score",
    relevant: bool = False,
    explain: bool = False,
    include_self: bool = False,
) -> list[SearchResult]:
    """The unified search; see the module docstring. ``explain``: meaning hits carry the cosine
    they need to be a match (``relevance_cutoff``); ``include_self``: an indexed picture given as
    the query may be among its results."""
    if sort not in SORTS:
        raise UsageError(f"--sort must be one of {', '.join(SORTS)}")
    filters = filters or Filters()
    query = query if query and query.strip() else None
    words = words if words and words.strip() else None
    if query is None and words is None:
        if not filters.active and sort != "date":  # newest first with nothing asked: the library, browsed
            raise UsageError("give a query, --text words, a filter, or --sort date",
                             web="give a query, text: words, a filter, or sort=date")  # fmt: skip
        return _filtered(searcher, filters, k)
    pool = max(100, k * POOL) if (query and words) or relevant else k
    vector_hits: list[SearchResult] = []
    if query is not None:
        vector_hits = searcher.search(query, pool, min_score, add, sub, filters=filters, include_self=include_self)
        if relevant:
            from .relevance import matches

            vector_hits = matches(searcher, query, vector_hits)
        if explain:
            from .relevance import explained

            vector_hits = explained(searcher, query, vector_hits)
    text_hits = _text(searcher, words, pool, filters) if words else []
    if query is None:
        results = text_hits
    elif words is None:
        results = vector_hits
    else:
        results = _fuse(vector_hits, text_hits)
    results = results[:k]
    if sort == "date":
        results.sort(key=lambda r: r.taken or "", reverse=True)
    return results


def _text(searcher: Searcher, words: str, limit: int, filters: Filters) -> list[SearchResult]:
    catalog = searcher.store.catalog
    hits = catalog.search_text(words, limit, searcher.clause(filters))
    snippets = {h.item_id: snippet(h.body, words) for h in hits}
    boxes = catalog.text_boxes([h.item_id for h in hits], words)
    results = searcher.results([(h.item_id, round(-h.rank, 4)) for h in hits], snippets)
    return [replace(r, text_boxes=boxes.get(r.id) or r.text_boxes, match="text", score_kind="bm25") for r in results]


def _fuse(vector: list[SearchResult], text: list[SearchResult]) -> list[SearchResult]:
    score: dict[int, float] = {}
    best: dict[int, SearchResult] = {}
    for ranked in (vector, text):
        for rank, r in enumerate(ranked, 1):
            score[r.id] = score.get(r.id, 0.0) + 1.0 / (RRF_K + rank)
            if r.id not in best or r.text_snippet:
                best[r.id] = r
    order = sorted(score, key=lambda i: score[i], reverse=True)
    both = {r.id for r in vector} & {r.id for r in text}
    return [replace(best[i], score=round(score[i], 6), score_kind="rrf", match="both" if i in both else best[i].match)
            for i in order]  # fmt: skip


def _filtered(searcher: Searcher, filters: Filters, k: int) -> list[SearchResult]:
    clause = searcher.clause(filters)
    query = select(ITEMS.c.id).order_by(ITEMS.c.taken.desc().nulls_last(), ITEMS.c.id.desc()).limit(k)
    if clause is not None:
        query = query.where(clause)
    with searcher.store.catalog.engine.connect() as conn:
        ids = [int(i) for i in conn.execute(query).scalars()]
    return [replace(r, match="filter", score_kind="none") for r in searcher.results([(i, 0.0) for i in ids])]
