"""Writing to an index: creating it, loading its model for images, and one index run in two phases.

:class:`~.index.Index` is the only caller; the functions here hold no state of their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..config import IndexLocation, RuntimeChoice, setting
from ..errors import ModelMismatchError, UsageError
from .settings import IndexSettings, precision_of

if TYPE_CHECKING:
    from ..ingest.ocrpool import OcrPool
    from ..ingest.options import IndexOptions, IndexReport
    from ..ingest.watch import Watcher
    from ..models.encoder import Encoder, EncoderHandle
    from ..models.registry import ModelRef
    from ..store.folder import IndexStore

EncoderLoader = Callable[["ModelRef", "str | None"], "Encoder"]
#: Called with (files done, files to do) as an index run goes.
ProgressFn = Callable[[int, int], None]


@contextlib.contextmanager
def writer_lock(store: IndexStore) -> Iterator[None]:
    """Hold ``store``'s writer lock for a block, unless it is held already (then the outer block
    releases it)."""
    if store.holds_lock:
        yield
        return
    store.acquire_lock()
    try:
        yield
    finally:
        store.release_lock()


def loader_for(loader: EncoderLoader | None, runtime: str | None, precision: str | None,
               queries: bool = False) -> EncoderLoader:  # fmt: skip
    """``loader`` if given (tests, other front ends), else the real one at this runtime and precision."""
    if loader is not None:
        return loader

    def load(ref: ModelRef, device: str | None) -> Encoder:
        from ..models.runtimes import load_encoder

        return load_encoder(ref, device, runtime=runtime, precision=precision, queries=queries)

    return load


def handle_of(encoder: Encoder) -> EncoderHandle:
    """This caller's own handle on a (shared) encoder: its language and run note are its own."""
    from ..models.encoder import EncoderHandle

    return encoder if isinstance(encoder, EncoderHandle) else EncoderHandle(encoder)


def check_loaded(store: IndexStore, encoder: Encoder) -> None:
    if encoder.info.dim != store.model.dim:
        raise ModelMismatchError(
            f"model {encoder.info.name} gives {encoder.info.dim}-dim vectors but index "
            f"{store.location.name!r} holds {store.model.dim}-dim ones"
        )


def query_encoder_loader(
    store: IndexStore, run: RuntimeChoice, loader: EncoderLoader | None
) -> Callable[[], EncoderHandle]:
    """A function that loads the index's own model for queries, at the index's precision (or the
    one ``run`` asks), when first called (many queries never need it)."""
    device = run.resolved_device
    load_model = loader_for(loader, run.runtime, run.precision or precision_of(store), queries=True)

    def load() -> EncoderHandle:
        encoder = handle_of(load_model(store.model.ref, device))
        check_loaded(store, encoder)
        return encoder

    return load


def create_store(
    location: IndexLocation, ref: ModelRef | None, run: RuntimeChoice, options: IndexOptions,
    loader: EncoderLoader | None,
) -> tuple[IndexStore, Encoder]:  # fmt: skip
    """A new index at ``location`` with its model loaded for images; the writer lock is held."""
    from ..models.registry import resolve_model_ref
    from ..query.categories import Categories
    from ..store.catalog import Catalog
    from ..store.dialect import is_server_url
    from ..store.folder import IndexStore

    settings = IndexSettings.for_new(run, options)
    catalog = options.catalog or setting("catalog")
    if catalog is not None:  # a wrong or unreachable catalog is said before any model loads
        if not is_server_url(catalog):
            raise UsageError(f"--catalog takes a postgresql://USER@HOST/DB URL, not {catalog!r} "
                             "(a SQLite catalog lives in the index folder: leave --catalog out)")  # fmt: skip
        Catalog(catalog).close()
    encoder = handle_of(loader_for(loader, run.runtime, settings.precision)(ref or resolve_model_ref(),
                                                                        run.resolved_device))  # fmt: skip
    if encoder.abilities.prepares:  # a new index embeds something: compile while the catalog is made and the scan runs
        encoder.prepare_images()
    store = IndexStore.create(location, encoder.info, settings.index_type, catalog)
    try:
        store.acquire_lock()
        settings.remember_encoding(store, encoder)
        settings.remember(store)
        Categories(store).ensure_builtin(encoder)
    except BaseException:
        store.close()
        raise
    return store, encoder


def image_encoder(store: IndexStore, run: RuntimeChoice, loader: EncoderLoader | None) -> Encoder:
    """The index's model loaded to embed images, at the precision asked, else the index's own."""
    precision = IndexSettings.of(store, run).precision
    encoder = handle_of(loader_for(loader, run.runtime, precision)(store.model.ref, run.resolved_device))
    check_loaded(store, encoder)
    return encoder


def begin_writing(store: IndexStore, run: RuntimeChoice, encoder: Encoder) -> None:
    """What a writer records before its first batch: how images are embedded now, and the built-in
    categories (a no-op, unless a salvaged catalog lost them). The caller holds the writer lock."""
    from ..query.categories import Categories

    IndexSettings.of(store, run).remember_encoding(store, handle_of(encoder))
    Categories(store).ensure_builtin(encoder)


def watch_runs(
    store: IndexStore, encoder: Encoder, roots: Sequence[str], options: IndexOptions, watcher: Watcher,
    stop: threading.Event | None, on_batch: Callable[[IndexReport], None] | None, ocr: OcrPool | None = None,
) -> None:  # fmt: skip
    """``watch``'s work, the writer lock held: catch up on ``roots``, then index each settled burst
    of changes until ``stop`` is set (a changed link may not lead outside the roots)."""
    report = index_run(store, encoder, list(roots), options, None, ocr=ocr)
    if on_batch:
        on_batch(report)
    inside = dataclasses.replace(options, within=tuple(roots))
    for changed in watcher.batches(stop or threading.Event()):
        report = index_run(store, encoder, changed, inside, None, ocr=ocr)
        if on_batch:
            on_batch(report)


def index_run(
    store: IndexStore, encoder: Encoder, paths: list[str | os.PathLike[str]], options: IndexOptions,
    progress: ProgressFn | None, text_progress: ProgressFn | None = None, ocr: OcrPool | None = None,
) -> IndexReport:  # fmt: skip
    """Index, labelling every committed batch with the index's categories as it lands, then read
    the text of the pictures that need it (``ingest/textpass.py``): phase one commits every vector
    before phase two reads a line. The caller holds the writer lock.

    The OCR mode and the region vectors asked for once are remembered and kept up to date on later
    runs (:class:`IndexSettings`); region scope 'drawings' limits them to pages labelled technical drawing.
    ``ocr``: the engines that read text (None: ``options.ocr_engine``'s, for this run).
    """
    from ..ingest import gatecache
    from ..ingest.indexer import index_paths  # the decoders, OCR and video: not for a cold query
    from ..ingest.scan import check_roots
    from ..ingest.textpass import read_texts
    from ..query.categories import DRAWING, Categories

    categories = Categories(store, encoder)
    settings = IndexSettings.of(store, options=options)
    keep = str(store.path / gatecache.FOLDER) if settings.ocr != "none" else None
    if ocr is None:
        from ..ingest.ocrpool import OcrPool

        ocr = OcrPool()
    ocr.use(settings.ocr_engine)
    if keep:
        ocr.check()  # an engine that cannot run here is said before any work, and before it is remembered
    settings.remember(store)
    roots = check_roots(paths)
    store.remember_roots(roots)
    options = dataclasses.replace(options, regions=settings.regions, ocr=settings.ocr,
                                  within=options.within or tuple(roots), gate_cache=keep)  # fmt: skip
    region_filter = None
    if settings.region_scope == "drawings":
        region_filter = lambda vectors: categories.is_category(DRAWING, vectors)  # noqa: E731
    report = index_paths(
        store, encoder, paths, options, progress,
        on_commit=lambda ids: categories.label(ids), region_filter=region_filter,
    )  # fmt: skip
    store.optimise()  # exact below 100k vectors, IVF above; retrained when outgrown
    report.encoding = store.manifest.encoding
    report.phases["embed_s"] = report.seconds
    # Phase two: every picture is searchable by meaning now; read the text of those that need it.
    text = read_texts(store, settings.ocr, workers=options.workers, timeout=options.ocr_timeout,
                      progress=text_progress, ocr=ocr)  # fmt: skip
    report.text = text.to_dict()
    report.phases["text_s"] = text.seconds
    report.seconds = round(report.seconds + text.seconds, 3)
    return report


def outside_the_index(store: IndexStore, roots: list[str], options: IndexOptions) -> IndexOptions:
    """No index folder is indexed, this one's or another's (its thumbnails would come back as
    copies of the originals): a root inside one is refused, and a root holding one passes over it."""
    from ..ingest.scan import is_index_folder, is_under

    own = os.path.realpath(store.path)
    for root in roots:
        real = os.path.realpath(root)
        if is_under(real, [own]):
            raise UsageError(f"{root} is inside this index's own folder ({own}): nothing there is a picture")
        folder = next((p for p in _and_parents(real) if is_index_folder(p)), None)
        if folder is not None:
            raise UsageError(f"{root} is inside an index folder ({folder}): nothing there is a picture")
    return dataclasses.replace(options, exclude=(*options.exclude, str(store.path), own))


def _and_parents(path: str) -> list[str]:
    out = [path]
    while os.path.dirname(out[-1]) != out[-1]:
        out.append(os.path.dirname(out[-1]))
    return out
