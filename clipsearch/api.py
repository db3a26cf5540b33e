"""The library's front door: index folders and query them from Python, no click needed.

    >>> from clipsearch import api
    >>> report = api.index(["~/Pictures"], index="photos", model="ViT-B-32-256")
    >>> with api.open_index("photos") as store:
    ...     hits = api.searcher(store).search("a dog on a beach", k=5)

Every function takes its collaborators as arguments (an :class:`Encoder`, an index location) so
tests and other front ends (the CLI, a server) can pass their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from .config import ENV_CATALOG, ENV_DEVICE, IndexLocation, ModelChoice, RuntimeChoice
from .errors import CatalogDamagedError, ClipsearchError, ModelMismatchError, UsageError
from .ingest import gatecache
from .ingest.options import IndexOptions, IndexReport

if TYPE_CHECKING:
    from .ingest.check import CheckReport
from .ingest.regions import SCOPES
from .ingest.regions import validate as validate_regions
from .ingest.scan import check_roots
from .ingest.watch import Watcher, WatchSettings
from .models.encoder import Encoder
from .models.registry import ModelRef, resolve_model_ref
from .models.runtimes import load_encoder
from .query.categories import DRAWING, Categories
from .query.search import Searcher
from .store.catalog import Catalog
from .store.dialect import is_server_url
from .store.extras import OCR_MODES
from .store.folder import IndexStore, remove_index
from .store.vectors import VectorIndex, factory_of, ivf_of

EncoderLoader = Callable[[ModelRef, str | None], Encoder]
#: Called with (files done, files to do) as an index run goes.
ProgressFn = Callable[[int, int], None]


def locate(index: str | None = None, home: str | os.PathLike[str] | None = None) -> IndexLocation:
    return IndexLocation.resolve(index, home)


def open_index(index: str | None = None, home: str | os.PathLike[str] | None = None) -> IndexStore:
    """Open an existing index for reading (raises :class:`IndexNotFoundError` if there is none)."""
    return IndexStore.open(locate(index, home))


def move_catalog(url: str, index: str | None = None, home: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """Move an index's SQLite catalog onto a PostgreSQL server (``postgresql://user@host/db``, a new
    database): every row with its id, nothing embedded again. Returns the rows copied per table."""
    from .store.transfer import move_to_server

    with IndexStore.open(locate(index, home)) as store:
        return move_to_server(store, url)


def requested_model(model: str | ModelChoice | None, pretrained: str | None = None) -> ModelRef | None:
    """The model asked for by flags or environment, or None if nothing was asked."""
    choice = model if isinstance(model, ModelChoice) else ModelChoice(model, pretrained)
    choice = choice.from_environment()
    return resolve_model_ref(choice.name, choice.pretrained) if choice.asked else None


def encoding_of(encoder: Encoder, precision: str) -> dict[str, object]:
    """What the index records of how its images were embedded: the precision (queries and later
    runs use it), and the runtime that ran and why (``status``, ``index --json``)."""
    note = dict(getattr(encoder, "run_note", None) or {})
    return {"precision": str(note.pop("precision", precision)), **note}


def precision_of(store: IndexStore) -> str:
    """The precision the index's images were embedded at: fp32 unless it was indexed with bf16 or int8."""
    return str(store.manifest.get("encoding", {}).get("precision", "fp32"))


def _loader(
    loader: EncoderLoader | None, runtime: str | None, precision: str | None, queries: bool = False
) -> EncoderLoader:
    if loader is not None:
        return loader
    return lambda ref, device: load_encoder(ref, device, runtime=runtime, precision=precision, queries=queries)


def _check_loaded(store: IndexStore, encoder: Encoder) -> None:
    if encoder.info.dim != store.model.dim:
        raise ModelMismatchError(
            f"model {encoder.info.name} gives {encoder.info.dim}-dim vectors but index "
            f"{store.location.name!r} holds {store.model.dim}-dim ones"
        )


def index(
    paths: Iterable[str | os.PathLike[str]],
    *,
    index: str | None = None,
    home: str | os.PathLike[str] | None = None,
    model: str | ModelChoice | None = None,
    run: RuntimeChoice | None = None,
    options: IndexOptions | None = None,
    rebuild: bool = False,
    progress: ProgressFn | None = None,
    loader: EncoderLoader | None = None,
    text_progress: ProgressFn | None = None,
) -> IndexReport:
    """Create or update an index from image folders. The index remembers its model and precision.

    Two phases: every new or changed file is embedded and committed first (``progress`` sees it),
    then the text of the pictures that need it is read (``text_progress``); readers find the
    pictures by meaning as soon as the first phase commits them.

    ``model``: a model name (see :class:`ModelChoice`) or a :class:`ModelChoice`; for an existing
    index it must be the index's own. ``run``: runtime, precision and device (:class:`RuntimeChoice`):
    precision 'fp32' (default), 'bf16' (OpenVINO) or 'int8' (dynamic quantisation, faster on a CPU,
    cosine >= 0.999 to fp32) is remembered, so later runs and queries use the same.
    ``options``: what to index and how (:class:`IndexOptions`, with the region scope and vector
    index type). The paths are checked before any model loads: a typo costs no model start-up.
    """
    run = run or RuntimeChoice()
    options = options or IndexOptions()
    paths = list(paths)
    check_roots(paths)
    with _writer(locate(index, home), requested_model(model), run, options, loader, rebuild) as (store, encoder):
        return _index_labelled(store, encoder, paths, options, progress, text_progress)


@contextlib.contextmanager
def _writer(
    location: IndexLocation,
    ref: ModelRef | None,
    run: RuntimeChoice,
    options: IndexOptions,
    loader: EncoderLoader | None,
    rebuild: bool = False,
) -> Iterator[tuple[IndexStore, Encoder]]:
    """The index at ``location`` opened (or created) for writing, lock held, with its model loaded."""
    if rebuild:
        remove_index(location)
    if IndexStore.exists(location):
        store = IndexStore.open(location, options.catalog)
        try:
            if ref is not None:
                store.check_model(ref)
            store.acquire_lock()
            if options.index_type:
                store.manifest["vectors"]["requested"] = validate_index_type(options.index_type)
            precision = run.precision or precision_of(store)
            encoder = _loader(loader, run.runtime, precision)(store.model.ref, run.resolved_device)
            store.manifest["encoding"] = encoding_of(encoder, precision)
            _check_loaded(store, encoder)
            Categories(store).ensure_builtin(encoder)  # a no-op, unless a salvaged catalog lost them
            yield store, encoder
        finally:
            store.close()
        return
    index_type = validate_index_type(options.index_type or "auto")
    catalog = options.catalog or os.environ.get(ENV_CATALOG) or None
    if catalog is not None:  # a wrong or unreachable catalog is said before any model loads
        if not is_server_url(catalog):
            raise UsageError(f"--catalog takes a postgresql://USER@HOST/DB URL, not {catalog!r} "
                             "(a SQLite catalog lives in the index folder: leave --catalog out)")  # fmt: skip
        Catalog(catalog).close()
    encoder = _loader(loader, run.runtime, run.precision or "auto")(ref or resolve_model_ref(), run.resolved_device)
    prepare = getattr(encoder, "prepare_images", None)
    if prepare is not None:  # a new index embeds something: compile while the catalog is made and the scan runs
        prepare()
    store = IndexStore.create(location, encoder.info, index_type, catalog)
    store.manifest["encoding"] = encoding_of(encoder, run.precision or "fp32")
    try:
        store.acquire_lock()
        store.catalog.set_meta("ocr", options.ocr or "auto")  # a new index reads text unless told not to
        Categories(store).ensure_builtin(encoder)
        yield store, encoder
    finally:
        store.close()


def watch(
    paths: Iterable[str | os.PathLike[str]],
    *,
    index: str | None = None,
    home: str | os.PathLike[str] | None = None,
    model: str | ModelChoice | None = None,
    run: RuntimeChoice | None = None,
    options: IndexOptions | None = None,
    settings: WatchSettings | None = None,
    on_batch: Callable[[IndexReport], None] | None = None,
    stop: threading.Event | None = None,
    loader: EncoderLoader | None = None,
) -> None:
    """Index ``paths``, then keep the index current as files change, until ``stop`` is set.

    Catches up first (what changed while nothing watched, incrementally as :func:`index` does), then
    indexes each burst of changes once it has settled (:class:`~.ingest.watch.WatchSettings`). Holds
    the writer lock throughout, as ``index`` does: a second writer is refused. ``on_batch`` sees each
    run's report. A KeyboardInterrupt stops it between runs or keeps a run's committed work.
    """
    run = run or RuntimeChoice()
    options = options or IndexOptions()
    roots = check_roots(paths)
    location = locate(index, home)
    watcher = Watcher(roots, settings or WatchSettings(), options, ignore=[str(location.path)])
    with _writer(location, requested_model(model), run, options, loader) as (store, encoder), watcher:
        report = _index_labelled(store, encoder, roots, options, None)
        if on_batch:
            on_batch(report)
        inside = dataclasses.replace(options, within=tuple(roots))  # a changed link may not lead outside them
        for changed in watcher.batches(stop or threading.Event()):
            report = _index_labelled(store, encoder, changed, inside, None)
            if on_batch:
                on_batch(report)


def _index_labelled(
    store: IndexStore,
    encoder: Encoder,
    paths: list[str | os.PathLike[str]],
    options: IndexOptions,
    progress: ProgressFn | None,
    text_progress: ProgressFn | None = None,
) -> IndexReport:
    """Index, labelling every committed batch with the index's categories as it lands, then read
    the text of the pictures that need it (``ingest/textpass.py``): phase one commits every vector
    before phase two reads a line.

    The OCR mode (``options.ocr``) is remembered like the regions. Region vectors asked for once
    (``options.regions``) are remembered by the index and kept up to
    date on later runs; ``options.region_scope`` 'drawings' limits them to pages labelled technical drawing.
    """
    categories = Categories(store)
    remembered = json.loads(store.catalog.get_meta("regions") or "{}")
    regions = validate_regions(tuple(remembered.get("names", [])) + options.regions)
    scope = options.region_scope or remembered.get("scope", "drawings")
    if scope not in SCOPES:
        raise UsageError(f"--region-scope must be one of {', '.join(SCOPES)}")
    if regions:
        store.catalog.set_meta("regions", json.dumps({"names": list(regions), "scope": scope}))
    # An index from before OCR existed keeps 'none' until asked: reading a whole library is not a surprise.
    ocr = options.ocr or store.catalog.get_meta("ocr") or "none"
    if ocr not in OCR_MODES:
        raise UsageError(f"--ocr must be one of {', '.join(OCR_MODES)}")
    store.catalog.set_meta("ocr", ocr)
    roots = check_roots(paths)
    store.remember_roots(roots)
    keep = str(store.path / gatecache.FOLDER) if ocr != "none" else None
    options = dataclasses.replace(options, regions=regions, ocr=ocr, within=options.within or tuple(roots),
                                  gate_cache=keep)  # fmt: skip
    from .ingest.indexer import index_paths  # the decoders, OCR and video: not for a cold query

    region_filter = None
    if scope == "drawings":
        region_filter = lambda vectors: categories.is_category(DRAWING, vectors)  # noqa: E731
    report = index_paths(
        store, encoder, paths, options, progress,
        on_commit=lambda ids: categories.label(ids), region_filter=region_filter,
    )  # fmt: skip
    store.optimise()  # exact below 100k vectors, IVF above; retrained when outgrown
    report.encoding = dict(store.manifest.get("encoding", {}))
    report.phases["embed_s"] = report.seconds
    # Phase two: every picture is searchable by meaning now; read the text of those that need it.
    from .ingest.textpass import read_texts

    text = read_texts(store, ocr, workers=options.workers, timeout=options.ocr_timeout, progress=text_progress)
    report.text = text.to_dict()
    report.phases["text_s"] = text.seconds
    report.seconds = round(report.seconds + text.seconds, 3)
    return report


def check(
    *,
    index: str | None = None,
    home: str | os.PathLike[str] | None = None,
    repair: bool = False,
    deep: bool = False,
    device: str | None = None,
    loader: EncoderLoader | None = None,
) -> CheckReport:
    """Verify that catalog, vector index and files agree (``deep``: every item, SQLite's full
    integrity check); with ``repair``, rebuild what is wrong from what is sound.

    A damaged SQLite catalog is salvaged row by row (``store/salvage.py``), the FAISS index is
    rebuilt from it, and the folders the index remembers are indexed again, so items whose rows
    were lost come back from their files; ``salvaged`` in the report says what could not be kept."""
    from .ingest.check import CheckReport

    location = locate(index, home)
    salvaged: dict[str, object] = {}
    try:
        report = _check_open(location, repair, deep, device, loader)
    except CatalogDamagedError as err:
        if not repair:
            return CheckReport(ok=False, catalog_problems=[str(err)], deep=deep)
        report = None
    if report is None or report.catalog_problems:
        if not repair:
            return report  # type: ignore[return-value]
        from .store.salvage import salvage_catalog

        salvaged = dataclasses.asdict(salvage_catalog(location))
        report = _check_open(location, repair, deep, device, loader)
        with open_index(index, home) as store:
            roots = [r for r in store.roots if os.path.exists(r)]
        if roots:
            again = _index_again(roots, location, loader)
            salvaged["indexed_again"] = {"embedded": again.embedded, "removed": again.removed}
        report = _check_open(location, False, deep, device, loader)
        report.salvaged = salvaged
    return report


def _index_again(roots: list[str], location: IndexLocation, loader: EncoderLoader | None) -> IndexReport:
    """The remembered folders indexed again after a salvage: what the lost rows held is embedded anew."""
    return index(roots, index=location.name, home=location.home, loader=loader)


def _check_open(
    location: IndexLocation, repair: bool, deep: bool, device: str | None, loader: EncoderLoader | None
) -> CheckReport:
    from .ingest.check import check_index, repair_index

    with IndexStore.open(location) as store:
        if repair:
            store.acquire_lock()
        report = check_index(store, deep)
        if repair and not report.ok and not report.catalog_problems:
            report = repair_index(store, report, encoder_factory(store, device=device, loader=loader))
    return report


def validate_index_type(index_type: str) -> str:
    """'auto', a FAISS factory string FAISS accepts, or ``sharded:`` and an IVF one (built from shards,
    served from disk): checked now, not after an hour of indexing."""
    if index_type == "auto":
        return index_type
    factory = factory_of(index_type)
    try:
        created = VectorIndex.create(8 if "PQ" not in factory else 64, factory)
    except ClipsearchError as err:
        raise UsageError(f"--index-type: {err}") from err
    if factory != index_type and ivf_of(created.index) is None:
        raise UsageError(f"--index-type {index_type}: a sharded index is an IVF, e.g. sharded:IVF4096,SQ8")
    return index_type


def parse_image_ref(spec: str) -> tuple[str, int | None]:
    """``"doc.pdf#page=3"`` -> ("doc.pdf", 3); anything else -> (spec, None)."""
    path, sep, frag = spec.rpartition("#page=")
    if sep and frag.isdigit() and path:
        return path, int(frag)
    return spec, None


def parse_item_ref(spec: str) -> tuple[str, int | None, float | None]:
    """``"doc.pdf#page=3"`` -> (path, 3, None); ``"clip.mp4#t=12.5"`` -> (path, None, 12.5); an
    existing file's own name is never split (a file may be called ``a#t=1.jpg``)."""
    if os.path.exists(spec):
        return spec, None, None
    path, sep, frag = spec.rpartition("#t=")
    if sep and path:
        try:
            return path, None, float(frag)
        except ValueError:
            pass
    path, page = parse_image_ref(spec)
    return path, page, None


def add_category(
    store: IndexStore,
    name: str,
    *,
    facet: str,
    prompts: Sequence[str] = (),
    examples: Sequence[str] = (),
    threshold: float | None = None,
    device: str | None = None,
    loader: EncoderLoader | None = None,
) -> None:
    """Define or redefine a category (examples are image paths or ``file.pdf#page=N``); relabels."""
    store.acquire_lock()
    load = encoder_factory(store, device=device, loader=loader)
    encoder = load()
    finder = Searcher(store, encoder)
    vectors = []
    for spec in examples:
        path, page = parse_image_ref(spec)
        vectors.append((path, page or 0, finder.image_vector(path, page)))
    Categories(store).add(name, facet=facet, prompts=prompts, encoder=encoder, threshold=threshold, examples=vectors)


def encoder_factory(
    store: IndexStore, *, device: str | None = None, loader: EncoderLoader | None = None, language: str | None = None
) -> Callable[[], Encoder]:
    """A function that loads the index's own model, at the index's precision, when first called
    (many queries never need it). ``language``: the queries' language, for text towers that take
    one (NLLB); by default each text's is detected."""
    device = device or os.environ.get(ENV_DEVICE) or None
    load_model = _loader(loader, None, precision_of(store), queries=True)

    def load() -> Encoder:
        encoder = load_model(store.model.ref, device)
        _check_loaded(store, encoder)
        set_language(encoder, language)
        return encoder

    return load


def set_language(encoder: Encoder, language: str | None) -> None:
    """Tell ``encoder`` the language of the texts to come (``ru``, ``rus_Cyrl``); None: detect each.
    Encoders are shared within a process, so None also clears an earlier caller's language."""
    from .models.language import flores_code

    if hasattr(encoder, "language"):
        encoder.language = flores_code(language) if language else None


def searcher(
    store: IndexStore, *, device: str | None = None, loader: EncoderLoader | None = None, language: str | None = None
) -> Searcher:
    """A :class:`Searcher` whose model (the one the index was built with) loads only when needed."""
    return Searcher(store, encoder_factory(store, device=device, loader=loader, language=language))


def embed(
    texts: Sequence[str] = (),
    images: Sequence[str] = (),
    *,
    index: str | None = None,
    home: str | os.PathLike[str] | None = None,
    model: str | ModelChoice | None = None,
    run: RuntimeChoice | None = None,
    loader: EncoderLoader | None = None,
    language: str | None = None,
) -> list[dict[str, object]]:
    """Unit vectors for ``texts`` and pictures (``images``: paths, ``file.pdf#page=N``, ``clip.mp4#t=S``).

    By default with an index's model at the index's precision and preprocessing (documents
    letterboxed as the indexer does), so a vector here is the one the index holds for the same
    picture (cosine >= 0.999: a JPEG may be decoded at another scale than the indexer's); with
    ``model``, by that model instead (no index needed). Returns ``{"text", "vector"}`` and
    ``{"path" (absolute), "vector"}`` dicts, in the order given.
    """
    if not texts and not images:
        raise UsageError("give at least one --text or --image")
    run = run or RuntimeChoice()
    ref = requested_model(model)
    if ref is not None:
        encoder = text_encoder = _loader(loader, run.runtime, run.precision)(ref, run.resolved_device)
    else:
        with open_index(index, home) as store:
            precision = run.precision or precision_of(store)
            encoder = _loader(loader, run.runtime, precision)(store.model.ref, run.resolved_device)
            _check_loaded(store, encoder)
            # texts as `search` embeds them (a query's runtime and precision), pictures as `index` did
            text_encoder = _loader(loader, run.runtime, precision, queries=True)(store.model.ref, run.resolved_device)
    set_language(text_encoder, language)
    out: list[dict[str, object]] = []
    if texts:
        if any(not t.strip() for t in texts):
            raise UsageError("empty --text")
        vectors = text_encoder.encode_texts(list(texts))
        out += [{"text": t, "vector": v.tolist()} for t, v in zip(texts, vectors, strict=True)]
    for spec in images:
        out.append(_embed_picture(encoder, spec))
    return out


def _embed_picture(encoder: Encoder, spec: str) -> dict[str, object]:
    from .ingest.pdf import is_pdf_path
    from .ingest.picture import is_document, item_picture
    from .ingest.scan import absolute

    path, page, time = parse_item_ref(spec)
    full = absolute(path)
    if not os.path.isfile(full):
        raise UsageError(f"no such image file: {path}")
    page = page or (1 if is_pdf_path(full) else 0)
    try:
        picture = item_picture(full, page, time, encoder.info.image_size)
    except ClipsearchError as err:
        raise UsageError(f"cannot embed {spec}: {getattr(err, 'reason', err)}") from err
    vector = encoder.encode_images(encoder.preprocess(picture, letterbox=is_document(full, page))[None])[0]
    entry: dict[str, object] = {"path": full, "vector": vector.tolist()}
    if time is not None:
        entry["time"] = time
    elif page:
        entry["page"] = page
    return entry
