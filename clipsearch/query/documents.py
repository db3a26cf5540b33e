"""Documents, not pages: results ranked as whole files, each PDF once (``search --documents``,
``similar FILE.pdf`` with no page, ``similar --documents``).

The catalog holds a PDF as one item per page (``page`` >= 1) and a picture as one item (page 0): a
picture is a document of one page (a video, one of its kept frames). A document's result is its
best page's (:class:`DocumentResult`): ``score``, ``best_page`` and the categories are that page's;

- ``pages``: the document's pages in the index, all of them, whatever the filters;
- ``pages_matched``: its pages that reach **the list's bar**, counting only pages that pass the
  filters. The bar is ``min_score`` when given (a cosine: for ``search`` only when its scores are
  cosines, i.e. without ``--text``), else the score of the last document listed: a page counts
  when it would have made the list on its own. Every document listed has at least its best page.

``search --documents`` groups the page hits of :func:`~.hybrid.find` (meaning, text, filters):
it fetches :data:`PAGES_PER_DOCUMENT` hits per document asked for, more (up to :data:`MAX_HITS`)
while too few documents fill the list, and counts pages among those hits (a page not fetched
ranks below every fetched one, so below the bar).

``similar`` by a whole PDF (:func:`similar_documents`) queries with each of its first
:data:`QUERY_PAGES` pages, embedded as ``similar`` embeds one page (the stored vectors when the file
is indexed and unchanged). A page of the index scores its best cosine against any query page; a
document scores its best page's. The pages of the documents listed are all scored exactly, from
their stored vectors, so ``pages_matched`` misses none that the nearest-neighbour search did not
return. The queried file itself is left out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from sqlalchemy import select

from ..errors import ImageLoadError, UsageError
from ..ingest.pdf import is_pdf_path, render_pages
from ..ingest.scan import absolute
from ..ingest.video import is_video_path
from ..models.encoder import Encoder, normalise
from ..store.catalog import ItemRow
from ..store.schema import ITEMS
from .filters import Filters
from .search import QueryTerm, Searcher, SearchResult

#: Pages of a PDF that make a whole-document query: the first ones, up to this many.
QUERY_PAGES = 50
#: Page hits fetched per document asked for, at first (more while too few documents fill the list).
PAGES_PER_DOCUMENT = 8
#: The most page hits fetched to fill a list of documents (shared among the query's pages).
MAX_HITS = 4000
#: Query pages embedded at once.
EMBED_BATCH = 16


@dataclass(frozen=True)
class DocumentResult(SearchResult):
    """One document among ranked results: its best page's result (``page`` is that page, 0 for a
    picture), with ``pages_matched`` of its ``pages`` reaching the list's bar (module docstring)."""

    pages_matched: int = 1
    pages: int = 1

    @property
    def best_page(self) -> int:
        return self.page

    @property
    def display_path(self) -> str:
        return self.path

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data.pop("page", None)
        return {**data, "best_page": self.page}


def _document(best: SearchResult, matched: int, pages: int) -> DocumentResult:
    same = {f.name: getattr(best, f.name) for f in fields(SearchResult)}
    return DocumentResult(**same, pages_matched=matched, pages=max(pages, matched, 1))


def whole_document(path: str, page: int | None, time: float | None, region: str | None, box: Any) -> bool:
    """Whether ``similar`` of ``path`` ranks documents unless told: a PDF, asked with no page, time,
    region or box."""
    return is_pdf_path(path) and page is None and time is None and region is None and box is None


def _pages_of(searcher: Searcher, paths: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
    """(item id, page) of every item of each of ``paths``, in page order."""
    out: dict[str, list[tuple[int, int]]] = {p: [] for p in paths}
    query = select(ITEMS.c.id, ITEMS.c.path, ITEMS.c.page)
    with searcher.store.catalog.engine.connect() as conn:
        for start in range(0, len(paths), 500):
            for r in conn.execute(query.where(ITEMS.c.path.in_(list(paths[start : start + 500])))):
                out[r.path].append((int(r.id), int(r.page)))
    return {p: sorted(rows, key=lambda r: r[1]) for p, rows in out.items()}


def _paths_by_id(searcher: Searcher, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    with searcher.store.catalog.engine.connect() as conn:
        for start in range(0, len(ids), 900):
            chunk = [int(i) for i in ids[start : start + 900]]
            rows = conn.execute(select(ITEMS.c.id, ITEMS.c.path).where(ITEMS.c.id.in_(chunk)))
            out.update((int(r.id), r.path) for r in rows)
    return out


# ---------------------------------------------------------------------- search --documents
def search_documents(
    searcher: Searcher, query: str | None, *, k: int = 10, min_score: float | None = None, sort: str = "score",
    words: str | None = None, **options: Any,
) -> list[SearchResult]:  # fmt: skip
    """:func:`~.hybrid.find` (the same arguments), each document once, ranked by its best hit;
    ``sort='date'`` orders the documents by when their best pages were taken."""
    from .hybrid import SORTS, find

    if k < 1:
        raise UsageError("--top must be at least 1", web="k must be at least 1")
    if sort not in SORTS:
        raise UsageError(f"--sort must be one of {', '.join(SORTS)}")
    want = min(k * PAGES_PER_DOCUMENT, MAX_HITS)
    while True:
        hits = find(searcher, query, words=words, k=want, min_score=min_score, **options)
        docs: dict[str, list[SearchResult]] = {}
        for hit in hits:  # ranked best first: a document's first hit is its best
            docs.setdefault(hit.path, []).append(hit)
        if len(docs) >= k or len(hits) < want or want >= MAX_HITS:
            break
        want = min(want * 4, MAX_HITS)
    listed = list(docs.values())[:k]
    if not listed:
        return []
    bar = min(hs[0].score for hs in listed)
    if min_score is not None and query and query.strip() and not (words and words.strip()):
        bar = min_score  # the scores are cosines: the bar asked for
    pages = _pages_of(searcher, [hs[0].path for hs in listed])
    results: list[SearchResult] = [
        _document(hs[0], sum(h.score >= bar for h in hs), len(pages[hs[0].path])) for hs in listed
    ]
    if sort == "date":
        results.sort(key=lambda r: r.taken or "", reverse=True)
    return results


# ---------------------------------------------------------------------- similar documents
def page_vectors(encoder: Encoder, source: str | bytes, name: object) -> np.ndarray:
    """The vectors of a PDF's first :data:`QUERY_PAGES` pages (a path or the file's bytes),
    rendered and letterboxed as the indexer does pages."""
    prepared = [encoder.preprocess(image, letterbox=True)
                for _, image in render_pages(source, name=name, max_pages=QUERY_PAGES)]  # fmt: skip
    batches = [np.stack(prepared[i : i + EMBED_BATCH]) for i in range(0, len(prepared), EMBED_BATCH)]
    return np.concatenate([encoder.encode_images(b) for b in batches])


def _pdf_vectors(searcher: Searcher, path: str, full: str) -> np.ndarray:
    """A whole PDF as queries: its stored page vectors when it is indexed and unchanged, else its
    pages rendered and embedded."""
    rows = sorted((r for r in searcher._unchanged_rows(full) if r.page >= 1), key=lambda r: r.page)
    if rows:
        return searcher.store.catalog.vectors([r.id for r in rows[:QUERY_PAGES]], searcher.store.model.dim)
    try:
        return page_vectors(searcher.encoder, full, path)
    except ImageLoadError as err:
        raise UsageError(f"cannot use {path} as a query: {err.reason}") from err


def _with_terms(searcher: Searcher, queries: np.ndarray, add: Sequence[str], sub: Sequence[str]) -> np.ndarray:
    """Each query page moved by the ``--add``/``--sub`` terms (as ``similar`` moves one), renormalised."""
    terms = [QueryTerm.parse(a, 1.0) for a in add] + [QueryTerm.parse(s, -1.0) for s in sub]
    if not terms:
        return queries
    moved = queries + sum(t.weight * searcher.term_vector(t) for t in terms)
    if not np.all(np.any(moved, axis=1)):
        raise UsageError("the query terms cancel out: nothing left to search for")
    return normalise(moved)


def similar_documents(
    searcher: Searcher, path: str, *, k: int = 10, page: int | None = None, time: float | None = None,
    min_score: float | None = None, add: Sequence[str] = (), sub: Sequence[str] = (),
    filters: Filters | None = None, region: str | None = None, box: Any = None,
) -> list[SearchResult]:  # fmt: skip
    """Documents like the file at ``path`` (which need not be indexed), itself left out: by all its
    pages (a PDF with no ``page``), else by the one picture (``page`` of a PDF, a picture, the frame
    at ``time`` of a video)."""
    if region is not None or box is not None:
        raise UsageError("documents are compared by whole pages: not with --region or --box")
    full = absolute(path)
    if not os.path.isfile(full):
        raise UsageError(f"no such image file: {path}")
    if time is not None or is_video_path(full):
        queries = searcher._frame_vector(path, full, time or 0.0)[0][None, :]
    elif is_pdf_path(full) and page is None:
        queries = _pdf_vectors(searcher, path, full)
    else:
        queries = searcher.image_vector(full, page)[None, :]
    queries = _with_terms(searcher, queries, add, sub)
    return documents_like(searcher, queries, k=k, min_score=min_score, filters=filters,
                          own=searcher.store.catalog.find_path(full))  # fmt: skip


def documents_like_item(
    searcher: Searcher, row: ItemRow, *, k: int = 10, filters: Filters | None = None, box: Any = None
) -> list[SearchResult]:
    """Documents like the indexed item ``row``'s whole document (its file's first
    :data:`QUERY_PAGES` pages, by their stored vectors), that file left out."""
    if box is not None:
        raise UsageError("documents are compared by whole pages: not with a box")
    own = searcher.store.catalog.find_path(row.path)
    ids = [r.id for r in sorted(own, key=lambda r: r.page)][:QUERY_PAGES]
    queries = searcher.store.catalog.vectors(ids, searcher.store.model.dim)
    return documents_like(searcher, queries, k=k, filters=filters, own=own)


def documents_like(
    searcher: Searcher, queries: np.ndarray, *, k: int = 10, min_score: float | None = None,
    filters: Filters | None = None, own: Sequence[ItemRow] = (),
) -> list[SearchResult]:  # fmt: skip
    """Documents ranked by their best page's best cosine against any row of ``queries``; ``own``
    (the query's items) left out, with every other item of their files."""
    if k < 1:
        raise UsageError("--top must be at least 1", web="k must be at least 1")
    queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
    own_ids, own_paths = [r.id for r in own], {r.path for r in own}
    want = min(k * PAGES_PER_DOCUMENT, MAX_HITS)
    most = max(want, MAX_HITS // len(queries))
    while True:
        scores, ids = searcher.nearest(queries, want, own_ids, filters)
        best: dict[int, float] = {}
        for i, s in zip(ids.ravel().tolist(), scores.ravel().tolist(), strict=True):
            if i >= 0 and s > best.get(i, -np.inf):
                best[i] = s
        paths = _paths_by_id(searcher, list(best))
        ranked: dict[str, float] = {}
        for i in sorted(best, key=lambda i: best[i], reverse=True):
            if i in paths and paths[i] not in own_paths:
                ranked.setdefault(paths[i], best[i])
        more = ids.shape[1] == want and bool(np.any(ids[:, -1] >= 0))  # a list filled up: there may be more
        if len(ranked) >= k or not more or want >= most:
            break
        want = min(want * 4, most)
    return _scored(searcher, queries, list(ranked)[:k], min_score, filters, own_ids)


def _scored(
    searcher: Searcher, queries: np.ndarray, paths: list[str], min_score: float | None, filters: Filters | None,
    own_ids: Sequence[int],
) -> list[SearchResult]:  # fmt: skip
    """The documents at ``paths``, every page of them that passes the filters scored exactly (its
    stored vector's best cosine against ``queries``), ranked; pages counted against the bar."""
    pages = _pages_of(searcher, paths)
    allow, deny = searcher.selection(filters)
    ids = np.asarray([i for p in paths for i, _ in pages[p]], np.int64)
    keep = ~np.isin(ids, np.concatenate([deny, np.asarray(own_ids, np.int64)]))
    if allow is not None:
        keep &= np.isin(ids, allow)
    ids = ids[keep]
    cosines = searcher.store.catalog.vectors(ids.tolist(), searcher.store.model.dim) @ queries.T
    page_score = dict(zip(ids.tolist(), cosines.max(axis=1).tolist(), strict=True)) if len(ids) else {}
    docs: list[tuple[float, int, str]] = []  # (score, best page's id, path)
    for p in paths:
        counted = [i for i, _ in pages[p] if i in page_score]
        if counted:
            top = max(counted, key=lambda i: page_score[i])
            if min_score is None or page_score[top] >= min_score:
                docs.append((page_score[top], top, p))
    if not docs:
        return []
    docs.sort(key=lambda d: d[0], reverse=True)
    bar = min_score if min_score is not None else docs[-1][0]
    best = {r.id: r for r in searcher.results([(i, s) for s, i, _ in docs])}
    return [
        _document(best[i], sum(page_score[j] >= bar for j, _ in pages[p] if j in page_score), len(pages[p]))
        for _, i, p in docs
        if i in best
    ]
