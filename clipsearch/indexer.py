"""Incremental indexing: find what changed under some folders and bring the index up to date.

Change detection follows rclip: size + mtime say whether a known path changed; a content hash
recognises a moved, renamed or copied file so its vectors are reused instead of running the model.
Each worker reads a file once, hashes the bytes, and decodes them only when the hash is new, so the
model (on the calling thread) is fed while files are read and decoded in parallel.

A file gives one item (an image, ``page`` 0) or several (PDF pages, ``page`` 1..n). The report
counts files; ``items`` counts what is searchable.

Work is committed to the catalog in batches; a crash loses at most the batch in flight, and the
next run picks up where this one stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .catalog import ItemRow, NewItem
from .embedding import Encoder
from .errors import ImageLoadError
from .images import DEFAULT_MAX_MEGAPIXELS, is_image_path, load_image
from .pdf import DEFAULT_MAX_PAGES, is_pdf_path, render_pages
from .phash import perceptual_code
from .regions import REGION_BASE, crop
from .scan import FoundFile, ScanProblem, check_roots, is_under, scan
from .store import IndexStore

ProgressFn = Callable[[int, int], None]
#: Called after each committed batch with the ids added or re-embedded (e.g. to label them).
CommitHook = Callable[[list[int]], None]


def indexable(name: str) -> bool:
    return is_image_path(name) or is_pdf_path(name)


@dataclass
class IndexOptions:
    exclude: tuple[str, ...] = ()
    include_hidden: bool = False
    batch_size: int = 32
    workers: int | None = None
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    max_pages: int = DEFAULT_MAX_PAGES
    #: Region vectors to store (see ``regions.REGIONS``), for pages chosen by ``region_filter``.
    regions: tuple[str, ...] = ()
    #: Items per catalog transaction: what a crash can cost, against per-commit overhead.
    commit_every: int = 256


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    items: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    skipped_files: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Page:
    page: int
    array: np.ndarray
    width: int
    height: int
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    phash: bytes | None = None


@dataclass
class _Prepared:
    found: FoundFile
    content_hash: str = ""
    pages: list[_Page] = field(default_factory=list)
    reason: str = ""  # non-empty: could not be used
    reuse: bool = False  # hash already in the catalog: no decoding was done


def _page(number: int, image: Any, encoder: Encoder, opts: IndexOptions, document: bool) -> _Page:
    width, height = image.info.get("original_size", image.size)
    regions = {name: encoder.preprocess(crop(image, name), letterbox=True) for name in opts.regions}
    array = encoder.preprocess(image, letterbox=document)
    return _Page(number, array, int(width), int(height), regions, perceptual_code(image))


def _prepare(found: FoundFile, known_hashes: frozenset[str], encoder: Encoder, opts: IndexOptions) -> _Prepared:
    try:
        with open(found.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return _Prepared(found, reason="file vanished during the run")
    except PermissionError:
        return _Prepared(found, reason="permission denied")
    except OSError as err:
        return _Prepared(found, reason=f"cannot read: {err.strerror or err}")
    digest = hashlib.blake2b(data, digest_size=20).hexdigest()
    if digest in known_hashes:
        return _Prepared(found, digest, reuse=True)
    try:
        if is_pdf_path(found.path):
            rendered = render_pages(data, name=found.path, max_pages=opts.max_pages)
            pages = [_page(number, image, encoder, opts, document=True) for number, image in rendered]
        else:
            size = REGION_BASE if opts.regions else encoder.info.image_size
            image = load_image(io.BytesIO(data), size, opts.max_megapixels, name=found.path)
            pages = [_page(0, image, encoder, opts, document=False)]
    except ImageLoadError as err:
        return _Prepared(found, digest, reason=err.reason)
    return _Prepared(found, digest, pages)


class _Batcher:
    """Collects changes and commits them to the catalog in transactions of ``commit_every``."""

    def __init__(self, store: IndexStore, commit_every: int, on_commit: CommitHook | None) -> None:
        self.store = store
        self.commit_every = commit_every
        self.on_commit = on_commit
        self._reset()

    def _reset(self) -> None:
        self.add: list[NewItem] = []
        self.replace: list[tuple[int, NewItem]] = []
        self.move: list[tuple[int, str, int, int]] = []
        self.remove: list[int] = []
        self.skip: list[tuple[str, int, int, str]] = []
        self.unskip: list[str] = []

    def pending(self) -> int:
        return len(self.add) + len(self.replace) + len(self.move) + len(self.remove) + len(self.skip)

    def maybe_commit(self) -> None:
        if self.pending() >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        if not (self.pending() or self.unskip):
            return
        catalog = self.store.catalog
        seq = catalog.commit_batch(
            add=self.add,
            replace=self.replace,
            move=self.move,
            remove=self.remove,
            skip=self.skip,
            unskip=self.unskip,
        )
        changed = bool(self.add or self.replace)
        self._reset()
        if changed and self.on_commit is not None:
            self.on_commit(catalog.ids_at_seq(seq))


def index_paths(
    store: IndexStore,
    encoder: Encoder,
    paths: Iterable[str | os.PathLike[str]],
    options: IndexOptions | None = None,
    progress: ProgressFn | None = None,
    on_commit: CommitHook | None = None,
    region_filter: Callable[[np.ndarray], np.ndarray] | None = None,
) -> IndexReport:
    """Bring ``store`` up to date with the image and PDF files under ``paths``. The caller holds the lock."""
    opts = options or IndexOptions()
    started = time.perf_counter()
    roots = check_roots(paths)
    report = IndexReport()
    catalog = store.catalog
    dim = encoder.info.dim

    by_path: dict[str, list[ItemRow]] = {}
    by_hash: dict[str, str] = {}  # content hash -> a path holding it
    for row in catalog.items():
        by_path.setdefault(row.path, []).append(row)
        by_hash.setdefault(row.content_hash, row.path)
    skipped_before = catalog.skipped()

    todo: list[FoundFile] = []
    seen: set[str] = set()
    batch = _Batcher(store, opts.commit_every, on_commit)

    def note_skip(path: str, reason: str) -> None:
        report.skipped += 1
        report.skipped_files.append({"path": path, "reason": reason})

    for entry in scan(roots, exclude=opts.exclude, include_hidden=opts.include_hidden, accept=indexable):
        if isinstance(entry, ScanProblem):
            note_skip(entry.path, entry.reason)
            continue
        seen.add(entry.path)
        old = by_path.get(entry.path)
        if old and (old[0].size, old[0].mtime_ns) == (entry.size, entry.mtime_ns):
            report.unchanged += 1
            continue
        before = skipped_before.get(entry.path)
        if not old and before and before[:2] == (entry.size, entry.mtime_ns):
            note_skip(entry.path, before[2])
            continue
        todo.append(entry)

    prepare = getattr(encoder, "prepare_images", None)
    if todo and prepare is not None:
        prepare()  # the image tower loads while the first files are read and decoded

    # Files under the given roots that are gone: candidates for a move, else removed at the end.
    missing: dict[str, list[str]] = {}
    for path, rows in by_path.items():
        if path not in seen and is_under(path, roots):
            missing.setdefault(rows[0].content_hash, []).append(path)
    batch.unskip.extend(p for p in skipped_before if is_under(p, roots) and p not in seen)

    pending: list[tuple[FoundFile, str, _Page]] = []

    def flush_images() -> None:
        if not pending:
            return
        vectors = encoder.encode_images(np.stack([page.array for _, _, page in pending]))
        report.embedded += len(pending)
        region_vectors = _embed_regions(encoder, [page for _, _, page in pending], vectors, region_filter)
        for (found, digest, page), vec, regions in zip(pending, vectors, region_vectors, strict=True):
            item = NewItem(
                found.path, page.page, found.size, found.mtime_ns, digest, page.width, page.height, vec, regions,
                page.phash,
            )  # fmt: skip
            old = {r.page: r for r in by_path.get(found.path, [])}.get(page.page)
            if old is None:
                batch.add.append(item)
            else:
                batch.replace.append((old.id, item))
        pending.clear()
        batch.maybe_commit()

    def handle(prep: _Prepared) -> None:
        f = prep.found
        old = by_path.get(f.path, [])
        if prep.reason:
            note_skip(f.path, prep.reason)
            batch.skip.append((f.path, f.size, f.mtime_ns, prep.reason))
            if old:  # its content changed into something unreadable: drop the stale items
                batch.remove.extend(r.id for r in old)
                report.removed += 1
            return
        if f.path in skipped_before:
            batch.unskip.append(f.path)
        if prep.reuse:
            reuse(prep, old)
            return
        if old:
            report.updated += 1
            new_pages = {p.page for p in prep.pages}
            batch.remove.extend(r.id for r in old if r.page not in new_pages)
        else:
            report.added += 1
        pending.extend((f, prep.content_hash, page) for page in prep.pages)
        if len(pending) >= opts.batch_size:
            flush_images()

    def reuse(prep: _Prepared, old: list[ItemRow]) -> None:
        f = prep.found
        report.reused += 1
        if old and old[0].content_hash == prep.content_hash:
            batch.move.extend((r.id, f.path, f.size, f.mtime_ns) for r in old)  # touched, same bytes
            report.unchanged += 1
            return
        candidates = missing.get(prep.content_hash)
        if not old and candidates:
            gone = candidates.pop()
            batch.move.extend((r.id, f.path, f.size, f.mtime_ns) for r in by_path[gone])
            report.moved += 1
            return
        source = by_path[by_hash[prep.content_hash]]
        vectors = catalog.vectors([r.id for r in source], dim)
        regions = catalog.item_regions([r.id for r in source], dim)
        batch.remove.extend(r.id for r in old)
        for r, vec in zip(source, vectors, strict=True):
            batch.add.append(
                NewItem(f.path, r.page, f.size, f.mtime_ns, prep.content_hash, r.width, r.height, vec,
                        regions.get(r.id, {}), r.phash)
            )  # fmt: skip
        if old:
            report.updated += 1
        else:
            report.added += 1
        batch.maybe_commit()

    total = len(todo)
    if progress:
        progress(0, total)
    try:
        for done, prep in enumerate(_prepared(todo, encoder, opts, frozenset(by_hash)), 1):
            handle(prep)
            if progress:
                progress(done, total)
        flush_images()
        for paths_gone in missing.values():
            for path in paths_gone:
                batch.remove.extend(r.id for r in by_path[path])
                report.removed += 1
        batch.commit()
    except BaseException:
        # Interrupted (Ctrl-C, error): keep the complete items already embedded, then re-raise.
        with contextlib.suppress(Exception):
            flush_images()
            batch.commit()
        raise
    finally:
        # Whatever was committed is kept; the FAISS file catches up with it now (or on next open).
        store.vectors()
        store.save_vectors()
    store.catalog.checkpoint()
    report.items = store.catalog.count()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _embed_regions(
    encoder: Encoder,
    pages: list[_Page],
    vectors: np.ndarray,
    region_filter: Callable[[np.ndarray], np.ndarray] | None,
) -> list[dict[str, np.ndarray]]:
    """Region vectors for the pages ``region_filter`` selects (all pages when it is None)."""
    out: list[dict[str, np.ndarray]] = [{} for _ in pages]
    if not pages or not pages[0].regions:
        return out
    chosen = np.ones(len(pages), bool) if region_filter is None else np.asarray(region_filter(vectors), bool)
    picked = [i for i in range(len(pages)) if chosen[i]]
    for name in pages[0].regions:
        if picked:
            embedded = encoder.encode_images(np.stack([pages[i].regions[name] for i in picked]))
            for i, vec in zip(picked, embedded, strict=True):
                out[i][name] = vec
    return out


def _prepared(
    todo: list[FoundFile], encoder: Encoder, opts: IndexOptions, known: frozenset[str]
) -> Iterator[_Prepared]:
    """Files read, hashed and decoded by a thread pool, in order, with a bounded number in flight."""
    workers = opts.workers or max(1, os.cpu_count() or 2)
    window = max(2 * opts.batch_size, 4 * workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clipsearch-load") as pool:
        queue: deque[Future[_Prepared]] = deque()
        it = iter(todo)

        def submit() -> bool:
            entry = next(it, None)
            if entry is None:
                return False
            queue.append(pool.submit(_prepare, entry, known, encoder, opts))
            return True

        for _ in range(window):
            if not submit():
                break
        try:
            while queue:
                prep = queue.popleft().result()
                submit()
                yield prep
        finally:
            for fut in queue:
                fut.cancel()
