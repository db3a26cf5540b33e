"""The front door: :class:`Index`, the one object a Python user (and the CLI, the server and the
MCP server) needs for one index.

    >>> from clipsearch import Index
    >>> with Index.create("photos", model="ViT-B-32-256") as ix:
    ...     ix.add(["~/Pictures"])
    ...     hits = ix.search("a dog on a beach", text="BEACH", k=5)

It owns what one index holds open: the store (manifest, catalog, vectors), the model loaded for
queries (on first need) and for images (on the first ``add``), the writer lock (taken inside each
writing call, released after it), and a cache of recent text vectors. Nothing here prints or
exits: errors are :class:`~clipsearch.errors.ClipsearchError` subclasses.

This module imports nothing heavy at load time: ``clipsearch search`` imports it, then starts
embedding the query (:meth:`Index.prefetch`) before SQLAlchemy, FAISS or a runtime loads.
The names the front ends need from below (filters, options, reports) are re-exported lazily.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..config import IndexLocation, ModelChoice, RuntimeChoice
from ..errors import ClipsearchError, UsageError
from .files import present
from .refs import embeds_by_model, parse_item_ref, requested_model
from .writer import EncoderLoader, ProgressFn

__all__ = ["Index", "embeds_by_model", "parse_item_ref", "requested_model"]

if TYPE_CHECKING:
    from ..ingest.check import CheckReport
    from ..ingest.ocrpool import OcrPool
    from ..ingest.options import IndexOptions, IndexReport
    from ..ingest.watch import WatchSettings
    from ..models.encoder import Encoder, EncoderHandle
    from ..query.filters import Filters
    from ..query.maps import LibraryMap
    from ..query.search import Searcher, SearchResult
    from ..store.folder import IndexStore
    from .asking import Answer
    from .categories import CategoriesView
    from .duplicates import DuplicatesView
    from .files import FilesView

#: Names re-exported for the front ends, imported on first use (PEP 562).
_LAZY = {
    "Filters": "..query.filters",
    "IndexOptions": "..ingest.options",
    "IndexReport": "..ingest.options",
    "WatchSettings": "..ingest.watch",
    "SearchResult": "..query.search",
    "display_path": "..query.search",
    "PROBLEMS": "..ingest.check",
    "CheckReport": "..ingest.check",
    "Group": "..query.duplicates",
    "Answer": ".asking",
    "paged": ".asking",
    "item_picture": "..ingest.picture",
    "embed_by_model": ".embedding",
    "OCR_ENGINES": "..ingest.textreader",
    "OcrPool": "..ingest.ocrpool",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    source = importlib.import_module(module, __package__)
    value = getattr(source, name)
    globals()[name] = value
    return value


class Index:
    """One index, open. Use :meth:`open` (it must exist) or :meth:`create` (made if missing)."""

    def __init__(
        self, store: IndexStore, *, run: RuntimeChoice | None = None, loader: EncoderLoader | None = None,
        language: str | None = None, image_encoder: Encoder | None = None, ocr: OcrPool | None = None,
    ) -> None:  # fmt: skip
        self.run = run or RuntimeChoice()
        self._ocr, self._given_ocr = ocr, ocr is not None
        self._loader = loader
        self._image_encoder = image_encoder
        self._query_lock = threading.RLock()
        self._map_lock = threading.Lock()
        self._query_encoder: EncoderHandle | None = None
        #: the language of text queries (``ru``, ``rus_Cyrl``) for models that take one; None: detected
        self.language = language
        self._categories: CategoriesView | None = None
        self._attach(store)

    def _attach(self, store: IndexStore) -> None:
        """Stand on ``store`` (at start, and after a repair replaced what was open)."""
        from ..query.search import Searcher
        from .writer import query_encoder_loader

        self.store = store
        self._load_query = query_encoder_loader(store, self.run, self._loader)
        self.searcher: Searcher = Searcher(store, self.query_encoder)
        self._categories = None

    # ------------------------------------------------------------------ opening
    @staticmethod
    def locate(name: str | None = None, home: str | os.PathLike[str] | None = None) -> IndexLocation:
        """Where index ``name`` lives (``--index``, ``$CLIPSEARCH_INDEX``, else 'default', under ``home``)."""
        return IndexLocation.resolve(name, home)

    @classmethod
    def open(
        cls, name: str | None = None, home: str | os.PathLike[str] | None = None, *, device: str | None = None,
        language: str | None = None, loader: EncoderLoader | None = None, catalog: str | None = None,
        run: RuntimeChoice | None = None, ocr: OcrPool | None = None,
    ) -> Index:  # fmt: skip
        """An existing index (raises :class:`IndexNotFoundError` if there is none). ``device``: for
        the model, when a query or a repair needs it (``run``: runtime and precision too, for
        :meth:`embed`); ``catalog``: a PostgreSQL URL with a password."""
        from ..store.folder import IndexStore

        store = IndexStore.open(cls.locate(name, home), catalog)
        return cls(store, run=run or RuntimeChoice(device=device), loader=loader, language=language, ocr=ocr)

    @classmethod
    def create(
        cls, name: str | None = None, home: str | os.PathLike[str] | None = None, *,
        model: str | ModelChoice | None = None, run: RuntimeChoice | None = None,
        options: IndexOptions | None = None, rebuild: bool = False, loader: EncoderLoader | None = None,
        roots: Iterable[str | os.PathLike[str]] = (), ocr: OcrPool | None = None,
    ) -> Index:  # fmt: skip
        """The index ``name``, made with ``model`` (default: the default model) if it does not exist.

        An existing index is opened: ``model``, if given, must be its own. ``run``: runtime,
        precision and device (precision is remembered: later runs and queries use it); ``options``:
        a new index's catalog (PostgreSQL), OCR mode and vector index type. ``rebuild`` deletes the
        index first. ``roots``: the folders to be indexed next, checked before any model loads (a
        typo costs no model start-up). ``loader`` and ``ocr``: engines of one's own for the image
        model and for reading text (``tests/fakes.py``)."""
        from ..ingest.options import IndexOptions
        from ..ingest.scan import check_roots
        from ..store.folder import IndexStore, remove_index
        from .writer import create_store

        run, options = run or RuntimeChoice(), options or IndexOptions()
        roots = list(roots)
        if roots:
            check_roots(roots)
        location = cls.locate(name, home)
        ref = requested_model(model)
        if rebuild:
            remove_index(location)
        if options.ocr_engine not in (None, "auto"):  # said before an index is made for it
            from ..ingest.ocrpool import OcrPool

            OcrPool(options.ocr_engine).check()
        if not IndexStore.exists(location):
            store, encoder = create_store(location, ref, run, options, loader)
            store.release_lock()
            return cls(store, run=run, loader=loader, image_encoder=encoder, ocr=ocr)
        store = IndexStore.open(location, options.catalog)
        try:
            if ref is not None:
                store.check_model(ref)
        except BaseException:
            store.close()
            raise
        return cls(store, run=run, loader=loader, ocr=ocr)

    @staticmethod
    def prefetch(name: str | None, home: str | os.PathLike[str] | None, texts: Sequence[str],
                 device: str | None = None) -> None:  # fmt: skip
        """Start reading the vectors and embedding ``texts`` on threads before the index is opened:
        a cold query's model and FAISS file load while the rest of the process starts."""
        from ..query.prefetch import prefetch_query

        prefetch_query(IndexLocation.resolve(name, home).path, texts, device)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.store.location.name

    @property
    def location(self) -> IndexLocation:
        return self.store.location

    # ------------------------------------------------------------------ models
    def query_encoder(self) -> Encoder:
        """The index's model for queries, loaded on first call (thread-safe)."""
        with self._query_lock:
            from ..models.language import flores_code

            if self._query_encoder is None:
                self._query_encoder = self._load_query()
            # this index's own handle, for its language now (the shared model is never written to)
            self._query_encoder = self._query_encoder.speaking(flores_code(self.language) if self.language else None)
            return self._query_encoder

    # ------------------------------------------------------------------ writing
    def _writing(self) -> contextlib.AbstractContextManager[None]:
        """The writer lock for one call, unless this index holds it already (a call inside another)."""
        from .writer import writer_lock

        return writer_lock(self.store)

    def _image_model(self) -> Encoder:
        """The index's model for images, at the index's precision (or the one ``run`` asks)."""
        from .writer import image_encoder

        if self._image_encoder is None:
            self._image_encoder = image_encoder(self.store, self.run, self._loader)
        return self._image_encoder

    def _writer_encoder(self) -> Encoder:
        from .writer import begin_writing

        encoder = self._image_model()
        begin_writing(self.store, self.run, encoder)
        return encoder

    def add(
        self, paths: Iterable[str | os.PathLike[str]], *, options: IndexOptions | None = None,
        progress: ProgressFn | None = None, text_progress: ProgressFn | None = None,
    ) -> IndexReport:  # fmt: skip
        """Index the files under ``paths``: new or changed ones are embedded and committed first
        (``progress`` sees it; readers find them by meaning at once), then the text of the
        pictures that need it is read (``text_progress``). Incremental: unchanged files cost a stat."""
        from ..ingest.options import IndexOptions
        from ..ingest.scan import check_roots
        from .writer import index_run, outside_the_index

        paths = list(paths)
        options = outside_the_index(self.store, check_roots(paths), options or IndexOptions())
        with self._writing():
            encoder = self._writer_encoder()
            ocr, options = self._text_engines(options)
            return index_run(self.store, encoder, paths, options, progress, text_progress, ocr)

    def watch(
        self, paths: Iterable[str | os.PathLike[str]], *, options: IndexOptions | None = None,
        settings: WatchSettings | None = None, on_batch: Callable[[IndexReport], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:  # fmt: skip
        """Index ``paths``, then keep the index current as files change, until ``stop`` is set.

        Catches up first (incrementally, as :meth:`add`), then indexes each burst of changes once it
        has settled. Holds the writer lock throughout: a second writer is refused. ``on_batch`` sees
        each run's report. A KeyboardInterrupt stops it between runs or keeps a run's committed work."""
        from ..ingest.options import IndexOptions
        from ..ingest.scan import check_roots
        from ..ingest.watch import Watcher, WatchSettings
        from .writer import watch_runs

        options = options or IndexOptions()
        roots = check_roots(list(paths))
        watcher = Watcher(roots, settings or WatchSettings(), options, ignore=[str(self.store.path)])
        with self._writing(), watcher:
            ocr, options = self._text_engines(options)
            watch_runs(self.store, self._writer_encoder(), roots, options, watcher, stop, on_batch, ocr)

    def _text_engines(self, options: IndexOptions) -> tuple[OcrPool, IndexOptions]:
        """The engines that read text, and ``options`` naming them: the ones this index was given
        (their engine is the run's unless the options name one), else its own, kept between runs
        (``watch``, ``serve``) so a reader started once is used again; each run sets the engine the
        index remembers (``OcrPool.use``)."""
        import dataclasses

        from ..ingest.ocrpool import OcrPool

        if self._ocr is None:
            self._ocr = OcrPool()
        if self._given_ocr and options.ocr_engine is None:
            options = dataclasses.replace(options, ocr_engine=self._ocr.engine_name)
        return self._ocr, options

    # ------------------------------------------------------------------ reading
    def search(
        self, query: str | None = None, *, text: str | None = None, filters: Filters | None = None, k: int = 10,
        min_score: float | None = None, add: Sequence[str] = (), sub: Sequence[str] = (), sort: str = "score",
        relevant: bool = False, explain: bool = False, documents: bool = False, files: bool = True,
        include_self: bool = False,
    ) -> list[SearchResult]:  # fmt: skip
        """The one search: ``query`` by meaning (a description, or a picture's path), ``text`` in the
        pictures (OCR, PDF text layers; "quoted phrases", codes letter for letter), ``filters``
        (categories, dates, places, folders, types); given together, ranked by rank fusion.
        ``add``/``sub``: ``[WEIGHT:]TEXT_OR_IMAGE`` terms added to or taken from the query;
        ``sort`` 'date' orders the hits by when they were taken; ``relevant`` keeps only what the
        model itself calls a match; ``explain``: meaning hits carry the cosine that takes
        (``relevance_cutoff``), text hits carry where their words are (``text_boxes``);
        ``documents``: each document (PDF) once, its best page's hit (``query/documents.py``);
        ``files`` False: a query or term that names a file on this machine is words, never that
        picture (front ends serving other people: nothing is read past the library);
        ``include_self``: an indexed picture given as the query may be among its own results."""

        def ranked(n: int) -> list[SearchResult]:
            with self._query_lock:
                self.searcher.reads_files = files
                try:
                    return self._search(query, text, filters, n, min_score, add, sub, sort, relevant, explain,
                                        documents, include_self)  # fmt: skip
                finally:
                    self.searcher.reads_files = True

        return present(ranked, k)

    def _search(self, query: str | None, text: str | None, filters: Filters | None, k: int, min_score: float | None,
                add: Sequence[str], sub: Sequence[str], sort: str, relevant: bool, explain: bool,
                documents: bool, include_self: bool = False) -> list[SearchResult]:  # fmt: skip
        from ..query.hybrid import find

        if documents:
            from ..query.documents import search_documents

            return search_documents(self.searcher, query, words=text, k=k, min_score=min_score, add=add, sub=sub,
                                    filters=filters, sort=sort, relevant=relevant, explain=explain)  # fmt: skip
        if query and not (add or sub or text or relevant or explain or min_score is not None) and sort == "score" \
                and not (self.searcher.reads_files and os.path.exists(query)):  # fmt: skip
            self.store.vectors()  # first: a text embedding on another thread (prefetch) finishes meanwhile
            return self.searcher.search_vector(self.searcher.text_vector(query), k, filters=filters)
        return find(self.searcher, query, words=text, k=k, min_score=min_score, add=add, sub=sub, filters=filters,
                    sort=sort, relevant=relevant, explain=explain, include_self=include_self)  # fmt: skip

    def ask(self, line: str, **options: Any) -> Answer:
        """A search box's line read as every front end reads it (``front/asking.py``): one page of
        results, how the line was read, where the next page starts, why an empty answer is empty."""
        from .asking import ask

        return ask(self, line, **options)

    def similar(
        self, path: str | os.PathLike[str], *, k: int = 10, page: int | None = None, time: float | None = None,
        region: str | None = None, box: str | Sequence[float] | None = None, filters: Filters | None = None,
        min_score: float | None = None, add: Sequence[str] = (), sub: Sequence[str] = (),
        documents: bool | None = None, include_self: bool = False,
    ) -> list[SearchResult]:  # fmt: skip
        """Pictures that look like the one at ``path`` (which need not be indexed): ``page`` of a
        PDF (``doc.pdf#page=3`` says the same), the frame at ``time`` seconds of a video
        (``clip.mp4#t=12.5``); ``region``: compare only that region (``title-block``); ``box``:
        only that part of the picture, ``"X0,Y0,X1,Y1"`` in fractions of its width and height.
        ``documents``: each document once (default: for a PDF given with no page, by all its pages)."""
        from ..ingest.regions import parse_box
        from ..query import documents as docs

        spec, in_page, in_time = parse_item_ref(os.fspath(path))
        page, time = page if page is not None else in_page, time if time is not None else in_time
        whole = docs.whole_document(spec, page, time, region, box) if documents is None else documents
        part = parse_box(box) if box is not None else None

        def ranked(n: int) -> list[SearchResult]:
            with self._query_lock:
                if whole:
                    return docs.similar_documents(self.searcher, spec, k=n, page=page, time=time, filters=filters,
                                                  min_score=min_score, add=add, sub=sub, region=region,
                                                  box=part)  # fmt: skip
                return self.searcher.similar(spec, n, min_score, add, sub, page=page, filters=filters, region=region,
                                             time=time, box=part, include_self=include_self)  # fmt: skip

        return present(ranked, k)

    def similar_to_item(
        self, item_id: int, *, k: int = 10, filters: Filters | None = None, box: str | Sequence[float] | None = None,
        follow_links: bool = False, documents: bool = False,
    ) -> list[SearchResult]:  # fmt: skip
        """Items like the indexed item ``item_id`` (by its stored vector), itself left out; with
        ``box``, like that part of it (read from its file, as :meth:`open_file` serves it);
        ``documents``: documents like the item's whole document, its file left out."""
        row = self.files.item(item_id)
        if documents:
            from ..query.documents import documents_like_item

            with self._query_lock:
                return documents_like_item(self.searcher, row, k=k, filters=filters, box=box)
        if box is not None:
            from .pictures import like_part_of

            return like_part_of(self, row, box, k=k, filters=filters, follow_links=follow_links)
        vec = self.store.catalog.vectors([item_id], self.store.model.dim)[0]

        def ranked(n: int) -> list[SearchResult]:
            with self._query_lock:
                return self.searcher.search_vector(vec, n, exclude_ids=[item_id], filters=filters)

        return present(ranked, k)

    def similar_to_bytes(
        self, data: bytes, *, page: int | None = None, k: int = 10, filters: Filters | None = None,
        max_megapixels: float = 50.0, box: str | Sequence[float] | None = None, documents: bool = False,
    ) -> list[SearchResult]:  # fmt: skip
        """Items like a picture given as bytes (any format clipsearch indexes), or a PDF's ``page``
        (default 1); ``box``: like that part of it (see :meth:`similar`); ``documents``: each
        document once, like the picture, the ``page``, or a PDF given with no page by all its pages."""
        from .pictures import like_bytes

        return present(lambda n: like_bytes(self, data, page=page, k=n, filters=filters, max_megapixels=max_megapixels,
                                            box=box, documents=documents), k)  # fmt: skip

    def map(self, *, rebuild: bool = False, language: str = "en") -> LibraryMap:
        """The library as a map: items placed in 2-D, grouped, each group named in ``language``
        (``query/maps.py``). Kept in the index and brought up to date as items change; ``rebuild``
        draws it anew."""
        from .library_map import map_of

        return map_of(self, self.categories.names(), rebuild=rebuild, language=language)

    @property
    def files(self) -> FilesView:
        """The indexed files: an item by id or by the path a result names, its file opened safely,
        its thumbnail and larger view, what is known of it (``ix.files``)."""
        from .files import FilesView

        return FilesView(self.store)

    @property
    def duplicates(self) -> DuplicatesView:
        """Near-duplicate groups: find, dismiss, plan and make moves, undo them, reports (``ix.duplicates``)."""
        from .duplicates import DuplicatesView

        return DuplicatesView(self)

    def status(self, *, brief: bool = False) -> dict[str, Any]:
        """What is indexed, with which model, how big, what still waits for its text (``status --json``);
        ``brief``: the counts alone, cheap to poll."""
        return self.store.status(brief=brief)

    @property
    def categories(self) -> CategoriesView:
        """The index's categories: list, add, show, remove (:class:`~.categories.CategoriesView`)."""
        from .categories import CategoriesView

        if self._categories is None:
            self._categories = CategoriesView(self.searcher, self._writing)
        return self._categories

    # ------------------------------------------------------------------ upkeep
    def check(self, *, repair: bool = False, deep: bool = False) -> CheckReport:
        """Verify that catalog, vector index and files agree; with ``repair``, rebuild what is wrong
        (see :func:`~.checking.check_at`). The index is reopened after a repair."""
        from ..store.folder import IndexStore
        from .checking import check_at, reindexer

        location = self.store.location
        self.store.close()
        try:
            return check_at(location, repair=repair, deep=deep, device=self.run.device, loader=self._loader,
                            reindex=reindexer(location, self._loader, Index.create))  # fmt: skip
        finally:
            with contextlib.suppress(ClipsearchError):  # still damaged: every later call says so
                self._attach(IndexStore.open(location))

    def move_catalog(self, url: str) -> dict[str, object]:
        """Move the SQLite catalog onto a PostgreSQL server (``postgresql://user@host/db``, a new
        database): every row with its id, nothing embedded again. Returns the rows copied per table."""
        from ..store.transfer import move_to_server

        with self._writing():
            return move_to_server(self.store, url)

    @classmethod
    def verify(
        cls, name: str | None = None, home: str | os.PathLike[str] | None = None, *, repair: bool = False,
        deep: bool = False, device: str | None = None, loader: EncoderLoader | None = None,
    ) -> CheckReport:  # fmt: skip
        """:meth:`check` of the index ``name`` without opening it first: its catalog may be too
        damaged to open (``check --repair`` salvages it)."""
        from .checking import check_at, reindexer

        location = cls.locate(name, home)
        again = reindexer(location, loader, cls.create)
        return check_at(location, repair=repair, deep=deep, device=device, loader=loader, reindex=again)

    def embed(self, texts: Sequence[str] = (), images: Sequence[str] = ()) -> list[dict[str, object]]:
        """Unit vectors for ``texts`` (as queries embed them) and pictures (as the indexer does)."""
        from .embedding import embed_with

        if not texts and not images:
            raise UsageError("give at least one --text or --image")
        return embed_with(self._image_model(), self.query_encoder(), texts, images)
