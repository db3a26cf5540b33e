"""Incremental indexing: find what changed under some folders and bring the index up to date.

Change detection follows rclip: size + mtime say whether a known path changed; a content hash
recognises a moved, renamed or copied file so its vector is reused instead of running the model.
Each worker reads a file once, hashes the bytes, and decodes them only when the hash is new, so the
model (on the calling thread) is fed while files are read and decoded in parallel.

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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .catalog import ItemRow, NewItem
from .embedding import Encoder
from .errors import ImageLoadError
from .images import DEFAULT_MAX_MEGAPIXELS, load_image
from .scan import FoundFile, ScanProblem, check_roots, is_under, scan
from .store import IndexStore

ProgressFn = Callable[[int, int], None]


@dataclass
class IndexOptions:
    exclude: tuple[str, ...] = ()
    include_hidden: bool = False
    batch_size: int = 32
    workers: int | None = None
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
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
class _Prepared:
    found: FoundFile
    content_hash: str = ""
    array: np.ndarray | None = None
    width: int = 0
    height: int = 0
    reason: str = ""  # non-empty: could not be used
    reuse: bool = False  # hash already in the catalog: no decoding was done


def _hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _prepare(found: FoundFile, known_hashes: frozenset[str], encoder: Encoder, max_mp: float) -> _Prepared:
    try:
        with open(found.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return _Prepared(found, reason="file vanished during the run")
    except PermissionError:
        return _Prepared(found, reason="permission denied")
    except OSError as err:
        return _Prepared(found, reason=f"cannot read: {err.strerror or err}")
    digest = _hash_bytes(data)
    if digest in known_hashes:
        return _Prepared(found, digest, reuse=True)
    try:
        image = load_image(io.BytesIO(data), encoder.info.image_size, max_mp, name=found.path)
        width, height = image.info.get("original_size", image.size)
        array = encoder.preprocess(image)
    except ImageLoadError as err:
        return _Prepared(found, digest, reason=err.reason)
    return _Prepared(found, digest, array, int(width), int(height))


class _Batcher:
    """Collects changes and commits them to the catalog in transactions of ``commit_every``."""

    def __init__(self, store: IndexStore, commit_every: int) -> None:
        self.store = store
        self.commit_every = commit_every
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
        self.store.catalog.commit_batch(
            add=self.add,
            replace=self.replace,
            move=self.move,
            remove=self.remove,
            skip=self.skip,
            unskip=self.unskip,
        )
        self.add, self.replace, self.move, self.remove, self.skip, self.unskip = [], [], [], [], [], []


def index_paths(
    store: IndexStore,
    encoder: Encoder,
    paths: Iterable[str | os.PathLike[str]],
    options: IndexOptions | None = None,
    progress: ProgressFn | None = None,
) -> IndexReport:
    """Bring ``store`` up to date with the image files under ``paths``. The caller holds the lock."""
    opts = options or IndexOptions()
    started = time.perf_counter()
    roots = check_roots(paths)
    report = IndexReport()
    catalog = store.catalog
    dim = encoder.info.dim

    by_path: dict[str, ItemRow] = {}
    by_hash: dict[str, ItemRow] = {}
    for row in catalog.items():
        by_path.setdefault(row.path, row)
        by_hash.setdefault(row.content_hash, row)
    skipped_before = catalog.skipped()

    todo: list[tuple[FoundFile, ItemRow | None]] = []
    seen: set[str] = set()
    batch = _Batcher(store, opts.commit_every)

    def note_skip(path: str, reason: str) -> None:
        report.skipped += 1
        report.skipped_files.append({"path": path, "reason": reason})

    for entry in scan(roots, exclude=opts.exclude, include_hidden=opts.include_hidden):
        if isinstance(entry, ScanProblem):
            note_skip(entry.path, entry.reason)
            continue
        seen.add(entry.path)
        old = by_path.get(entry.path)
        if old is not None and (old.size, old.mtime_ns) == (entry.size, entry.mtime_ns):
            report.unchanged += 1
            continue
        before = skipped_before.get(entry.path)
        if old is None and before and before[:2] == (entry.size, entry.mtime_ns):
            note_skip(entry.path, before[2])
            continue
        todo.append((entry, old))

    # Items under the given roots whose file is gone: candidates for a move, else removed at the end.
    missing: dict[str, list[ItemRow]] = {}
    for path, row in by_path.items():
        if path not in seen and is_under(path, roots):
            missing.setdefault(row.content_hash, []).append(row)
    batch.unskip.extend(p for p in skipped_before if is_under(p, roots) and p not in seen)

    known = frozenset(by_hash)
    pending: list[_Prepared] = []
    old_of: dict[str, ItemRow | None] = {f.path: old for f, old in todo}

    def flush_images() -> None:
        if not pending:
            return
        vectors = encoder.encode_images(np.stack([p.array for p in pending]))
        report.embedded += len(pending)
        for prep, vec in zip(pending, vectors, strict=True):
            item = NewItem(
                prep.found.path,
                0,
                prep.found.size,
                prep.found.mtime_ns,
                prep.content_hash,
                prep.width,
                prep.height,
                vec,
            )
            old = old_of[prep.found.path]
            if old is None:
                batch.add.append(item)
                report.added += 1
            else:
                batch.replace.append((old.id, item))
                report.updated += 1
            if prep.found.path in skipped_before:
                batch.unskip.append(prep.found.path)
        pending.clear()
        batch.maybe_commit()

    def handle(prep: _Prepared) -> None:
        f = prep.found
        old = old_of[f.path]
        if prep.reason:
            note_skip(f.path, prep.reason)
            batch.skip.append((f.path, f.size, f.mtime_ns, prep.reason))
            if old is not None:  # its content changed into something unreadable: drop the stale item
                batch.remove.append(old.id)
                report.removed += 1
            return
        if prep.reuse:
            _reuse(prep, old)
            return
        pending.append(prep)
        if len(pending) >= opts.batch_size:
            flush_images()

    def _reuse(prep: _Prepared, old: ItemRow | None) -> None:
        f = prep.found
        report.reused += 1
        if old is not None and old.content_hash == prep.content_hash:
            batch.move.append((old.id, f.path, f.size, f.mtime_ns))  # touched, same bytes
            report.unchanged += 1
            return
        candidates = missing.get(prep.content_hash)
        if old is None and candidates:
            row = candidates.pop()
            batch.move.append((row.id, f.path, f.size, f.mtime_ns))
            report.moved += 1
            return
        source = by_hash[prep.content_hash]
        vector = catalog.vectors([source.id], dim)[0]
        item = NewItem(f.path, 0, f.size, f.mtime_ns, prep.content_hash, source.width, source.height, vector)
        if old is None:
            batch.add.append(item)
            report.added += 1
        else:
            batch.replace.append((old.id, item))
            report.updated += 1
        batch.maybe_commit()

    total = len(todo)
    done = 0
    if progress:
        progress(0, total)
    workers = opts.workers or max(1, (os.cpu_count() or 2))
    window = max(2 * opts.batch_size, 4 * workers)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clipsearch-load") as pool:
            queue: deque[Future[_Prepared]] = deque()
            it = iter(todo)
            for entry, _old in _take(it, window):
                queue.append(pool.submit(_prepare, entry, known, encoder, opts.max_megapixels))
            while queue:
                prep = queue.popleft().result()
                for entry, _old in _take(it, 1):
                    queue.append(pool.submit(_prepare, entry, known, encoder, opts.max_megapixels))
                handle(prep)
                done += 1
                if progress:
                    progress(done, total)
        flush_images()
        for rows in missing.values():
            for row in rows:
                batch.remove.append(row.id)
                report.removed += 1
        batch.commit()
    except BaseException:
        # Interrupted (Ctrl-C, error): keep the complete items already embedded, then re-raise.
        with contextlib.suppress(Exception):
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


def _take(it: Iterable[tuple[FoundFile, ItemRow | None]], n: int) -> Sequence[tuple[FoundFile, ItemRow | None]]:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))  # type: ignore[call-overload]
        except StopIteration:
            break
    return out
