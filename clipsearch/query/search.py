"""Queries: text -> images, image -> images, and rclip-style query arithmetic.

A query is a weighted sum of unit vectors (the main query with weight 1, ``--add`` terms positive,
``--sub`` terms negative), renormalised, then ranked by inner product = cosine similarity.
The model is loaded only if a term needs it: ``similar`` on an indexed, unchanged file reuses the
vector stored in the catalog.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..config import REGIONS
from ..errors import ImageLoadError, IndexCorruptError, UsageError
from ..ingest.images import load_image
from ..ingest.pdf import is_pdf_path, render_pages
from ..ingest.regions import REGION_BASE, Box, crop_box, decode_side
from ..ingest.regions import crop as crop_region
from ..ingest.regions import validate as validate_regions
from ..ingest.scan import absolute
from ..ingest.video import frame_at, is_video_path
from ..models.encoder import Encoder, normalise
from ..store.catalog import ItemRow
from ..store.folder import IndexStore
from ..store.vectors import VectorIndex
from .categories import Categories
from .filters import Filters

#: A cosine of unit vectors lies in [-1, 1]; 8-bit scalar quantisation (IVF,SQ8) can overshoot a
#: little. Past this a vector in the FAISS file is damaged (random bytes read as floats).
MAX_COSINE = 1.05


def _page_for(path: str, page: int | None) -> int:
    """0 for images; for PDFs the asked page (default 1). A page on an image is a user mistake."""
    if is_pdf_path(path):
        if page is not None and page < 1:
            raise UsageError("--page counts from 1")
        return page or 1
    if page not in (None, 0):
        raise UsageError(f"--page applies to PDF files only, not {path}")
    return 0


def _query_picture(path: str, full: str, page: int, min_size: int) -> Any:
    """The PIL picture of a query file (a PDF ``page`` rendered, else the image); a file that can't
    be read is the user's mistake here, not a file to skip."""
    try:
        if page:
            return next(render_pages(full, pages=[page]))[1]
        return load_image(full, min_size)
    except ImageLoadError as err:
        raise UsageError(f"cannot use {path} as a query: {err.reason}") from err


def display_path(path: str, page: int, time: float | None = None) -> str:
    """How a result is shown to people: ``clip.mp4#t=12.5`` for a video frame (a media fragment
    players understand), ``file.pdf#page=3`` for a PDF page, the path otherwise."""
    if time is not None:
        return f"{path}#t={time:g}"
    return f"{path}#page={page}" if page else path


@dataclass(frozen=True)
class SearchResult:
    id: int
    path: str
    page: int
    score: float
    width: int
    height: int
    categories: dict[str, str] = field(default_factory=dict)
    #: The item's text around the words searched for, the match in [brackets] (text queries).
    text_snippet: str | None = None
    #: When the picture was taken (ISO local time), where known.
    taken: str | None = None
    #: A video frame's time in seconds (``page`` then numbers the frames kept).
    time: float | None = None
    #: Where the words searched for stand (text queries): boxes ``[x0, y0, x1, y1]`` in fractions
    #: of the picture's width and height, one per OCR line that holds them.
    text_boxes: list[list[float]] | None = None
    #: The cosine this result needs to be what the model calls a match (``--relevant``'s line), when
    #: asked (``explain``): a text query's meaning hits.
    relevance_cutoff: float | None = None
    #: The part of the picture that matched (a region's or a tile's box, fractions), when a part did.
    box: list[float] | None = None
    #: What matched: "meaning" (the picture), "text" (words in it), "both", "region", "tile", "filter".
    match: str = "meaning"
    #: The scale of ``score``: "cosine" (-1..1), "bm25" (text relevance, higher is better, no upper
    #: bound), "rrf" (rank fusion of meaning and text, 1/(60 + rank) summed), "none" (a filter's list).
    score_kind: str = "cosine"

    @property
    def display_path(self) -> str:
        return display_path(self.path, self.page, self.time)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("page", "text_snippet", "taken", "text_boxes"):
            if not data[key] or (key == "page" and self.time is not None):
                data.pop(key)
        for key in ("time", "relevance_cutoff", "box"):
            if data[key] is None:
                data.pop(key)
        return data


@dataclass(frozen=True)
class QueryTerm:
    """One part of a query: text or an image file, with a weight (negative to subtract)."""

    value: str
    weight: float = 1.0

    @property
    def is_image(self) -> bool:
        return os.path.isfile(self.value)

    @classmethod
    def parse(cls, spec: str, sign: float = 1.0) -> QueryTerm:
        """``"2:red"`` -> weight 2, text "red"; a prefix that is not a number is part of the text."""
        head, sep, rest = spec.partition(":")
        if sep and rest:
            try:
                return cls(rest, sign * float(head))
            except ValueError:
                pass
        return cls(spec, sign)


EncoderSource = Encoder | Callable[[], Encoder]


class Searcher:
    """Runs queries against one open index. ``encoder`` may be a factory, called only when needed."""

    def __init__(self, store: IndexStore, encoder: EncoderSource) -> None:
        self.store = store
        #: Whether a query term that names a file is read as that picture (False: words; set by
        #: ``Index.search`` for front ends that serve other people, under its query lock).
        self.reads_files = True
        self._encoder_source = encoder
        self._region_indexes: dict[str, Any] = {}
        self._regions_seen: tuple[int, ...] | None = None

    @property
    def encoder(self) -> Encoder:
        """The encoder, or the factory's answer now (an index's handle for its language of the moment)."""
        src = self._encoder_source
        if callable(src) and not hasattr(src, "encode_texts"):
            return src()  # type: ignore[no-any-return]
        return src  # type: ignore[return-value]

    # ------------------------------------------------------------------ vectors for terms
    def text_vector(self, text: str) -> np.ndarray:
        if not text.strip():
            raise UsageError("empty text query")
        return self.encoder.encode_texts([text])[0]

    def image_vector(self, path: str, page: int | None = None) -> np.ndarray:
        """Stored vector when ``path`` (page) is indexed and unchanged, else the model's.

        For a PDF, ``page`` (1-based, default 1) picks the page; it is letterboxed like indexed pages.
        """
        full = absolute(path)
        page = _page_for(full, page)
        stored = self._stored_vector(full, page)
        if stored is not None:
            return stored
        if not os.path.isfile(full):
            raise UsageError(f"no such image file: {path}")
        enc = self.encoder
        image = _query_picture(path, full, page, enc.info.image_size)
        return enc.encode_images(enc.preprocess(image, letterbox=bool(page))[None])[0]

    def _unchanged_row(self, full: str, page: int = 0) -> ItemRow | None:
        """The catalog row for ``full`` (page) if it is indexed and the file has not changed since."""
        return next((r for r in self._unchanged_rows(full) if r.page == page), None)

    def _stored_vector(self, full: str, page: int = 0) -> np.ndarray | None:
        row = self._unchanged_row(full, page)
        return None if row is None else self.store.catalog.vectors([row.id], self.store.model.dim)[0]

    def _frame_vector(self, path: str, full: str, time: float) -> tuple[np.ndarray, list[int]]:
        """(vector, [its item id]) of a video's frame at ``time``: the nearest kept frame's stored
        vector when the video is indexed and unchanged, else the frame decoded and embedded."""
        if not is_video_path(full):
            raise UsageError(f"--time applies to videos only, not {path}")
        rows = self._unchanged_rows(full)
        if rows:
            row = min(rows, key=lambda r: abs((r.time or 0.0) - time))
            return self.store.catalog.vectors([row.id], self.store.model.dim)[0], [row.id]
        enc = self.encoder
        try:
            image = frame_at(full, time, name=path)
        except ImageLoadError as err:
            raise UsageError(f"cannot use {path} at {time:g} s as a query: {err.reason}") from err
        return enc.encode_images(enc.preprocess(image)[None])[0], []

    def _unchanged_rows(self, full: str) -> list[ItemRow]:
        """The catalog rows (pages, frames) of ``full`` if it is indexed and unchanged since, else none."""
        rows = self.store.catalog.find_path(full)
        try:
            st = os.stat(full)
        except OSError:
            return []
        return [r for r in rows if (st.st_size, st.st_mtime_ns) == (r.size, r.mtime_ns)]

    def region_vector(self, path: str, region: str, page: int | None = None) -> np.ndarray:
        """Vector of ``region`` (e.g. the title block) of an image or PDF page: stored, else embedded."""
        validate_regions([region])
        full = absolute(path)
        page = _page_for(full, page)
        row = self._unchanged_row(full, page)
        if row is not None:
            stored = self.store.catalog.item_regions([row.id], self.store.model.dim).get(row.id, {})
            if region in stored:
                return stored[region]
        enc = self.encoder
        image = _query_picture(path, full, page, REGION_BASE)
        return enc.encode_images(enc.preprocess(crop_region(image, region), letterbox=True)[None])[0]

    def box_vector(self, path: str, box: Box, page: int | None = None, time: float | None = None) -> np.ndarray:
        """Vector of the part ``box`` of a picture (a PDF ``page``, a video's frame at ``time``),
        embedded with the model's own preprocessing, letterboxed so the whole box is seen. The
        title block's box is the stored title-block region where the page has one."""
        full = absolute(path)
        enc = self.encoder
        if time is not None or is_video_path(full):
            try:
                image = frame_at(full, time or 0.0, name=path)
            except ImageLoadError as err:
                raise UsageError(f"cannot use {path} as a query: {err.reason}") from err
        else:
            page = _page_for(full, page)
            if tuple(box) == REGIONS["title-block"]:
                return self.region_vector(full, "title-block", page)
            # decoded large enough that the box alone still fills the model's input
            need = decode_side(box, enc.info.image_size)
            image = _query_picture(path, full, page, need)
        return enc.encode_images(enc.preprocess(crop_box(image, box, base=None), letterbox=True)[None])[0]

    def region_cache(self) -> dict[str, Any]:
        """Region and tile indexes built from the catalog, dropped when anything commits to it (a
        long-lived server sees the regions of pages indexed after it started)."""
        token = self.store.catalog.change_token()
        if token != self._regions_seen:
            self._region_indexes, self._regions_seen = {}, token
        return self._region_indexes

    def region_index(self, region: str) -> VectorIndex:
        if region not in self.region_cache():
            ids, vecs = self.store.catalog.region_vectors(region, self.store.model.dim)
            vi = VectorIndex.create(self.store.model.dim)
            vi.add(ids, vecs)
            self._region_indexes[region] = vi
        return self._region_indexes[region]

    def term_vector(self, term: QueryTerm) -> np.ndarray:
        if self.reads_files and term.is_image:
            return self.image_vector(term.value)
        return self.text_vector(term.value)

    def combine(self, terms: Sequence[QueryTerm], start: np.ndarray | None = None) -> np.ndarray:
        total = np.zeros(self.store.model.dim, dtype=np.float32) if start is None else start.astype(np.float32)
        for term in terms:
            total += term.weight * self.term_vector(term)
        if not np.any(total):
            raise UsageError("the query terms cancel out: nothing left to search for")
        return normalise(total)

    # ------------------------------------------------------------------ queries
    def search_vector(
        self,
        query: np.ndarray,
        k: int = 10,
        min_score: float | None = None,
        exclude_ids: Sequence[int] = (),
        filters: Filters | None = None,
        index: VectorIndex | None = None,
    ) -> list[SearchResult]:
        """Rank by cosine; ``exclude_ids`` and category ``filters`` apply inside the FAISS search.

        ``index``: search these vectors (e.g. a region index) instead of the whole-item vectors."""
        if k < 1:
            raise UsageError("--top must be at least 1", web="k must be at least 1")
        scores, ids = self.nearest(query[None, :], k, exclude_ids, filters, index)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        if min_score is not None:
            hits = [(i, s) for i, s in hits if s >= min_score]
        return self.results(hits)

    def nearest(
        self, queries: np.ndarray, k: int, exclude_ids: Sequence[int] = (), filters: Filters | None = None,
        index: VectorIndex | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(scores, ids), one row per query (rows of ``queries``), unfilled slots id -1; a damaged
        vector index (cosines no unit vectors give) raises :class:`IndexCorruptError`."""
        vi = index if index is not None else self.store.vectors()
        allow, deny = self.selection(filters)
        deny = np.concatenate([np.asarray(exclude_ids, np.int64), deny])
        scores, ids = vi.search(queries, k, allow=allow, deny=deny)
        found = scores[ids >= 0]
        if found.size and not (np.all(np.isfinite(found)) and float(np.abs(found).max()) <= MAX_COSINE):
            raise IndexCorruptError(
                f"the vector index of {self.store.location.name!r} is damaged (a cosine of {float(found.max()):.3g}): "
                "run `clipsearch check --repair`"
            )
        return scores, ids

    def selection(self, filters: Filters | None) -> tuple[np.ndarray | None, np.ndarray]:
        """(ids allowed or None for all, ids denied) for the vector search under ``filters``."""
        no = np.zeros(0, np.int64)
        if filters is None or not filters.active:
            return None, no
        cats = Categories(self.store)
        if not replace(filters, include=(), exclude=(), cluster=None).active:
            # categories and a map group alone: label lookups and the map's ids, exclusions as a deny list
            allow = cats.ids_in(filters.include) if filters.include else None
            if filters.cluster is not None:
                group = np.asarray(self.members(filters.cluster), np.int64)
                allow = group if allow is None else np.intersect1d(allow, group)
            return allow, cats.ids_in(filters.exclude) if filters.exclude else no
        return self.store.catalog.ids_where(self.clause(filters)), no  # type: ignore[arg-type]

    def clause(self, filters: Filters) -> Any:
        """``filters`` as a condition on ``items``, categories and map groups resolved."""
        return filters.clause(Categories(self.store), self.members)

    def members(self, cluster: int) -> np.ndarray:
        """Item ids of group ``cluster`` of the index's map, as it was last drawn."""
        from .maps import cached

        library = cached(self.store.path)
        if library is None:
            raise UsageError("this index has no map yet: run `clipsearch map` (or open the Map view) first")
        if not any(c.id == cluster for c in library.clusters):
            known = ", ".join(str(c.id) for c in library.clusters) or "none"
            raise UsageError(f"the map has no group {cluster} (groups: {known})")
        return library.members(cluster)

    def results(self, hits: Sequence[tuple[int, float]], snippets: dict[int, str] | None = None) -> list[SearchResult]:
        """Rows, labels and dates for ranked (id, score) pairs; ids gone meanwhile are left out."""
        ids = [i for i, _ in hits]
        rows = self.store.catalog.get(ids)
        labels = Categories(self.store).labels_for(ids)
        snippets = snippets or {}
        return [
            SearchResult(i, rows[i].path, rows[i].page, s, rows[i].width, rows[i].height, labels.get(i, {}),
                         snippets.get(i), rows[i].taken, rows[i].time)
            for i, s in hits
            if i in rows
        ]  # fmt: skip

    def search(
        self,
        text: str,
        k: int = 10,
        min_score: float | None = None,
        add: Sequence[str] = (),
        sub: Sequence[str] = (),
        filters: Filters | None = None,
        include_self: bool = False,
    ) -> list[SearchResult]:
        """Text (or image path) query, with ``add``/``sub`` terms in ``WEIGHT:value`` form; an
        indexed picture given as the query is left out of its results unless ``include_self``."""
        terms = [QueryTerm(text)] + [QueryTerm.parse(a, 1.0) for a in add] + [QueryTerm.parse(s, -1.0) for s in sub]
        self.store.vectors()  # first: a text being embedded on another thread (prefetch) finishes meanwhile
        own = [] if include_self or not (self.reads_files and terms[0].is_image) else [
            r.id for r in self.store.catalog.find_path(os.path.normpath(os.path.abspath(text)))]  # fmt: skip
        return self.search_vector(self.combine(terms), k, min_score, exclude_ids=own, filters=filters)

    def similar(
        self,
        path: str,
        k: int = 10,
        min_score: float | None = None,
        add: Sequence[str] = (),
        sub: Sequence[str] = (),
        page: int | None = None,
        filters: Filters | None = None,
        region: str | None = None,
        time: float | None = None,
        box: Box | None = None,
        include_self: bool = False,
    ) -> list[SearchResult]:
        """Pictures like the one at ``path`` (``page`` of a PDF, the frame at ``time`` seconds of a
        video); if it is indexed, it is left out (unless ``include_self``).

        ``region``: compare only that region (e.g. ``title-block``) of pages that have one stored.
        ``box``: compare only that part of the query picture (see :meth:`box_vector`) with whole
        pictures."""
        full = absolute(path)
        if not os.path.isfile(full):
            raise UsageError(f"no such image file: {path}")
        if box is not None:
            if region is not None:
                raise UsageError("give --box or --region, not both")
            video = time is not None or is_video_path(full)
            at = None if video else _page_for(full, page)
            own = [] if include_self else [r.id for r in self.store.catalog.find_path(full) if video or r.page == at]
            from .tiles import with_tiles

            query = self.box_vector(full, box, page, time)
            whole = self.search_vector(query, k, min_score, exclude_ids=own, filters=filters)
            return with_tiles(self, whole, query, k, min_score, own, filters)
        if time is not None or is_video_path(full):
            query, own = self._frame_vector(path, full, time or 0.0)
            own = [] if include_self else own
            return self.search_vector(query, k, min_score, exclude_ids=own, filters=filters)
        page = _page_for(full, page)
        own = [] if include_self else [r.id for r in self.store.catalog.find_path(full) if r.page == page]
        if region is not None:
            index = self.region_index(region)
            if index.ntotal == 0:  # nothing to rank: say what is missing and how to get it
                raise UsageError(f"no page of this index has a {region} region stored: index its drawings with "
                                 f"--region {region} (pages classed 'technical drawing'; --region-scope all for "
                                 "every page)", web=f"no page of this index has a {region} region stored")  # fmt: skip
            query = self.region_vector(full, region, page)
            hits = self.search_vector(query, k, min_score, exclude_ids=own, filters=filters, index=index)
            return [replace(h, box=list(REGIONS[region]), match="region") for h in hits]
        query = self.image_vector(full, page)
        extra = [QueryTerm.parse(a, 1.0) for a in add] + [QueryTerm.parse(s, -1.0) for s in sub]
        if extra:
            query = self.combine(extra, start=query)
        return self.search_vector(query, k, min_score, exclude_ids=own, filters=filters)
