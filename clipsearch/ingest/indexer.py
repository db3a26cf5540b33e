"""Incremental indexing: find what changed under some folders and bring the index up to date.

Change detection follows rclip: size + mtime say whether a known path changed; a content hash
recognises a moved, renamed or copied file so its vectors are reused instead of running the model.

A run has four stages, each in its own place:
- **scan** (``scan.py``) lists the files; **plan** (:meth:`_Run.plan`) compares them with the catalog:
  unchanged, known-bad, to do, or gone (a move candidate);
- **decode** (``decode.py``) reads, hashes and decodes what is to do on a thread pool;
- **embed** (:meth:`_Run.flush_images`) runs the model on full batches on this thread;
- **commit** (``batcher.py``) writes the changes to the catalog in bounded transactions.

A file gives one item (an image, ``page`` 0) or several (PDF pages, ``page`` 1..n). The report
counts files; ``items`` counts what is searchable. A crash loses at most the batch in flight, and
the next run picks up where this one stopped.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable

import numpy as np

from ..models.encoder import Abilities, Encoder
from ..store.catalog import Enrich, ItemRow, Move, NewItem, Replace, Skip
from ..store.extras import EXTRAS_VERSION, Extras
from ..store.folder import IndexStore
from .batcher import Batcher, CommitHook
from .decode import Page, Prepared, RegionFilter, embed_regions, prepared
from .options import IndexOptions, IndexReport
from .scan import FoundFile, ScanProblem, check_roots, indexable, is_under, scan

__all__ = ["CommitHook", "IndexOptions", "IndexReport", "ProgressFn", "index_paths", "indexable"]

ProgressFn = Callable[[int, int], None]


def index_paths(
    store: IndexStore,
    encoder: Encoder,
    paths: Iterable[str | os.PathLike[str]],
    options: IndexOptions | None = None,
    progress: ProgressFn | None = None,
    on_commit: CommitHook | None = None,
    region_filter: RegionFilter | None = None,
) -> IndexReport:
    """Bring ``store`` up to date with the image and PDF files under ``paths``. The caller holds the lock."""
    started = time.perf_counter()
    run = _Run(store, encoder, options or IndexOptions(), on_commit, region_filter)
    todo = run.plan(check_roots(paths))
    if todo and Abilities.of(encoder).prepares and not run.opts.ray:
        encoder.prepare_images()  # type: ignore[attr-defined]  # the image tower loads while the first files decode
    if progress:
        progress(0, len(todo))
    known, enrich = frozenset(run.by_hash), frozenset(run.enrich)
    if run.opts.ray:  # decoded and embedded on a Ray cluster, committed here (distributed.py)
        from .distributed import ray_prepared

        encoding = store.manifest.encoding
        stream = ray_prepared(todo, encoder.info, store.model.ref, encoding, run.opts, known, enrich)
    else:
        stream = prepared(todo, encoder, run.opts, known, enrich)
    try:
        for done, prep in enumerate(stream, 1):
            run.handle(prep)
            if progress:
                progress(done, len(todo))
        run.finish()
    except BaseException:
        # Interrupted (Ctrl-C, error): keep the complete items already embedded, then re-raise.
        with contextlib.suppress(Exception):
            run.flush_images()
            run.batch.commit()
        raise
    finally:
        # Whatever was committed is kept; the FAISS file catches up with it now (or on next open).
        store.vectors()
        store.save_vectors()
    store.catalog.checkpoint()
    run.report.items = store.catalog.count()
    run.report.seconds = round(time.perf_counter() - started, 3)
    return run.report


class _Run:
    """The state of one indexing run: what the catalog held, what changed, what waits for the model."""

    def __init__(
        self,
        store: IndexStore,
        encoder: Encoder,
        opts: IndexOptions,
        on_commit: CommitHook | None,
        region_filter: RegionFilter | None,
    ) -> None:
        self.store, self.encoder, self.opts, self.region_filter = store, encoder, opts, region_filter
        self.catalog = store.catalog
        self.report = IndexReport()
        self.batch = Batcher(store, opts.commit_every, on_commit, opts.commit_seconds)
        self.by_path: dict[str, list[ItemRow]] = {}
        self.by_hash: dict[str, str] = {}  # content hash -> a path holding it
        for row in self.catalog.items():
            self.by_path.setdefault(row.path, []).append(row)
            self.by_hash.setdefault(row.content_hash, row.path)
        self.skipped_before = self.catalog.skipped()
        #: Files under the given roots that are gone, by content hash: move candidates, else removed.
        self.missing: dict[str, list[str]] = {}
        #: Unchanged files whose metadata (and text layers) are behind this extractor.
        self.enrich: set[str] = set()
        self.pending: list[tuple[FoundFile, str, Page]] = []

    def note_skip(self, path: str, reason: str) -> None:
        self.report.skipped += 1
        self.report.skipped_files.append({"path": path, "reason": reason})

    # ------------------------------------------------------------------ scan and plan
    def plan(self, roots: list[str]) -> list[FoundFile]:
        """Scan ``roots``: count what is unchanged, list what is to do, note what is gone."""
        todo: list[FoundFile] = []
        seen: set[str] = set()
        opts = self.opts
        found = scan(roots, exclude=opts.exclude, include_hidden=opts.include_hidden, accept=indexable,
                     follow_links=opts.follow_links, within=opts.within or None)  # fmt: skip
        for entry in found:
            if isinstance(entry, ScanProblem):  # remembered like an unreadable file: `status` counts it
                self.note_skip(entry.path, entry.reason)
                kept = entry.path.encode("utf-8", "replace").decode("utf-8")  # a name not UTF-8 still counts
                seen.add(kept)
                if self.skipped_before.get(kept, (0, 0, ""))[2] != entry.reason:
                    self.batch.skip.append(Skip(kept, -1, 0, entry.reason))
                continue
            seen.add(entry.path)
            old = self.by_path.get(entry.path)
            if old and (old[0].size, old[0].mtime_ns) == (entry.size, entry.mtime_ns):
                self.report.unchanged += 1
                if any(row.extras_version < EXTRAS_VERSION for row in old):  # text waits for the text pass
                    self.enrich.add(entry.path)
                    todo.append(entry)
                continue
            before = self.skipped_before.get(entry.path)
            if not old and before and before[:2] == (entry.size, entry.mtime_ns):
                self.note_skip(entry.path, before[2])
                continue
            todo.append(entry)
        for path, rows in self.by_path.items():
            if path not in seen and is_under(path, roots):
                self.missing.setdefault(rows[0].content_hash, []).append(path)
        self.batch.unskip.extend(p for p in self.skipped_before if is_under(p, roots) and p not in seen)
        return todo

    # ------------------------------------------------------------------ each decoded file
    def handle(self, prep: Prepared) -> None:
        f = prep.found
        old = self.by_path.get(f.path, [])
        if prep.enrich:
            ids = {r.page: r.id for r in old}
            self.batch.enrich.extend(Enrich(ids[p.page], p.extras) for p in prep.pages if p.page in ids and p.extras)
            self.report.enriched += not prep.reason
            self.batch.maybe_commit()
            return
        if prep.reason:
            self.note_skip(f.path, prep.reason)
            self.batch.skip.append(Skip(f.path, f.size, f.mtime_ns, prep.reason))
            if old:  # its content changed into something unreadable: drop the stale items
                self.batch.remove.extend(r.id for r in old)
                self.report.removed += 1
            self.batch.maybe_commit()
            return
        if f.path in self.skipped_before:
            self.batch.unskip.append(f.path)
        if prep.note:
            self.report.partial_files.append({"path": f.path, "note": prep.note})
        if prep.reuse:
            self.reuse(prep, old)
            return
        if old:
            self.report.updated += 1
            new_pages = {p.page for p in prep.pages}
            self.batch.remove.extend(r.id for r in old if r.page not in new_pages)
        else:
            self.report.added += 1
        self.pending.extend((f, prep.content_hash, page) for page in prep.pages)
        if len(self.pending) >= self.opts.batch_size or self.batch.overdue():
            self.flush_images()

    def reuse(self, prep: Prepared, old: list[ItemRow]) -> None:
        """Bytes the catalog already holds: touched in place, moved, or copied (vectors reused)."""
        f, batch = prep.found, self.batch
        self.report.reused += 1
        if old and old[0].content_hash == prep.content_hash:
            batch.move.extend(Move(r.id, f.path, f.size, f.mtime_ns) for r in old)  # touched, same bytes
            self.report.unchanged += 1
            return
        candidates = self.missing.get(prep.content_hash)
        if not old and candidates:
            gone = candidates.pop()
            batch.move.extend(Move(r.id, f.path, f.size, f.mtime_ns) for r in self.by_path[gone])
            self.report.moved += 1
            return
        source = self.by_path[self.by_hash[prep.content_hash]]
        dim = self.encoder.info.dim
        vectors = self.catalog.vectors([r.id for r in source], dim)
        regions = self.catalog.item_regions([r.id for r in source], dim)
        texts = self.catalog.extras([r.id for r in source])
        batch.remove.extend(r.id for r in old)
        for r, vec in zip(source, vectors, strict=True):
            batch.add.append(
                NewItem.again(r, vec, path=f.path, size=f.size, mtime_ns=f.mtime_ns, content_hash=prep.content_hash,
                              regions=regions.get(r.id, {}), extras=_copy_extras(prep.extras, texts.get(r.id)))
            )  # fmt: skip
        if old:
            self.report.updated += 1
        else:
            self.report.added += 1
        batch.maybe_commit()

    # ------------------------------------------------------------------ embed
    def flush_images(self) -> None:
        """Run the model on the pages waiting for it and queue their items for the catalog."""
        pending = self.pending
        if not pending:
            return
        pages = [page for _, _, page in pending]
        if all(page.vector is not None for page in pages):  # embedded on the cluster
            vectors = np.stack([page.vector for page in pages])
            region_vectors = _chosen_regions(pages, vectors, self.region_filter)
        else:
            vectors = self.encoder.encode_images(np.stack([page.array for page in pages]))
            region_vectors = embed_regions(self.encoder, pages, vectors, self.region_filter)
        self.report.embedded += len(pending)
        for (found, digest, page), vec, regions in zip(pending, vectors, region_vectors, strict=True):
            item = NewItem(
                path=found.path, page=page.page, size=found.size, mtime_ns=found.mtime_ns, content_hash=digest,
                width=page.width, height=page.height, vector=vec, regions=regions, phash=page.phash,
                extras=page.extras, time=page.time,
            )  # fmt: skip
            old = {r.page: r for r in self.by_path.get(found.path, [])}.get(page.page)
            if old is None:
                self.batch.add.append(item)
            else:
                self.batch.replace.append(Replace(old.id, item))
        pending.clear()
        self.batch.maybe_commit()

    # ------------------------------------------------------------------ commit
    def finish(self) -> None:
        """Embed the last partial batch, remove what is gone (not moved), commit the rest."""
        self.flush_images()
        for paths_gone in self.missing.values():
            for path in paths_gone:
                self.batch.remove.extend(r.id for r in self.by_path[path])
                self.report.removed += 1
        self.batch.commit()


def _copy_extras(own: Extras | None, source: Extras | None) -> Extras | None:
    """A copy's extras: metadata from its own bytes and mtime, text from the item it duplicates."""
    if own is None or source is None:
        return own or source
    own.text, own.text_source, own.ocr_mode = source.text, source.text_source, source.ocr_mode
    own.text_error, own.text_boxes = source.text_error, source.text_boxes
    return own


def _chosen_regions(pages: list[Page], vectors: np.ndarray, region_filter: RegionFilter | None) -> list[dict]:
    """Region vectors made on the cluster, kept for the pages ``region_filter`` selects."""
    if not pages or not pages[0].region_vectors:
        return [{} for _ in pages]
    chosen = np.ones(len(pages), bool) if region_filter is None else np.asarray(region_filter(vectors), bool)
    return [dict(page.region_vectors) if keep else {} for page, keep in zip(pages, chosen, strict=True)]
