"""One index on disk: a self-contained folder with a manifest, a SQLite catalog and a FAISS file.

::

    <home>/<name>/
        manifest.json    model facts, vector index type, last catalog seq the FAISS file holds
        catalog.sqlite   items, vectors (durable copy), tombstones, skipped files
        vectors.faiss    the search structure, rebuilt or caught up from the catalog when behind
        lock             held (flock) by the one process allowed to write

An index of type ``sharded:IVF...`` (chosen from SHARDED_FROM vectors, or asked for) has instead
``vectors-SEQ-N.sharded/`` (the IVF built from shards of the catalog, served from disk) and
``vectors.delta.npz`` (what changed since: new vectors, hidden ids), caught up the same way.

Copying the folder copies the index. Readers never take the lock: SQLite WAL gives them a
consistent snapshot and the FAISS file is replaced atomically.

With ``--catalog postgresql://...`` the catalog lives on a PostgreSQL server instead (the manifest
keeps its URL, without password) and the folder holds the rest. Several machines may each keep a
folder on one shared catalog: each FAISS file catches up from the catalog's seq as ever, and the
writer lock is the server's (an advisory lock), so there is one writer across all of them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..config import IndexLocation
from ..errors import (
    CatalogDamagedError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexReadOnlyError,
    ModelMismatchError,
    UsageError,
)
from ..models.registry import ModelInfo, ModelRef
from . import dialect
from .catalog import Catalog
from .manifest import FORMAT_VERSION, MANIFEST, VECTORS, Manifest
from .shards import ShardedIndex, build_from_chunks
from .vectors import DEFAULT_INDEX_TYPE, SHARDED, VectorIndex, choose_index_type, factory_of, trainable_type

CATALOG = "catalog.sqlite"
#: A sharded index's changes since its build (its big files live in ``vectors-SEQ.sharded/``).
DELTA = "vectors.delta.npz"
#: Items a sharded index's delta (exact search, in memory) may hold before ``optimise`` rebuilds.
DELTA_MAX = 200_000
LOCK = "lock"
#: How long taking the lock waits on a holder that has written no pid: one that is taking or
#: releasing it (the pid is written just after the lock is taken, and erased just before release).
LOCK_SETTLE_S = 2.0


class IndexStore:
    """Open with :meth:`open` (existing) or :meth:`create`; use as a context manager to close."""

    def __init__(self, location: IndexLocation, manifest: Manifest, catalog_url: str | None = None) -> None:
        """``catalog_url``: the server catalog's URL as given (it may carry a password the manifest
        leaves out); by default the manifest's, or the folder's SQLite file."""
        self.location = location
        self.path = location.path
        self.manifest = manifest
        self.model = manifest.model
        self.catalog = Catalog(catalog_url or manifest.catalog or self.path / CATALOG)
        self._vectors: VectorIndex | ShardedIndex | None = None
        self._synced = 0
        self._lock_fd: int | None = None
        self._server_lock = self._writer_lock()

    def _writer_lock(self) -> dialect.WriterLock | None:
        """The server's one-writer lock for this catalog (None for SQLite: the folder's flock does)."""
        return self.catalog.backend.writer_lock(self.catalog.engine, self.location.name)

    # ------------------------------------------------------------------ opening
    @classmethod
    def exists(cls, location: IndexLocation) -> bool:
        return (location.path / MANIFEST).is_file()

    @classmethod
    def open(cls, location: IndexLocation, catalog: str | None = None) -> IndexStore:
        """An existing index. ``catalog``: its server catalog's URL as the user gave it (it may hold
        the password); it must be the one the index keeps."""
        manifest_path = location.path / MANIFEST
        if not manifest_path.is_file():
            raise IndexNotFoundError(
                f"no index named {location.name!r} in {location.home} "
                f"(create it with: clipsearch index --index {location.name} FOLDER)"
            )
        manifest = Manifest.read(manifest_path)
        if manifest.format > FORMAT_VERSION:
            raise IndexCorruptError(
                f"index {location.name!r} was written by a newer clipsearch (format {manifest.format})"
            )
        asked = dialect.public_url(catalog) if catalog is not None else None
        if asked is not None and asked != manifest.catalog:
            raise UsageError(
                f"index {location.name!r} keeps its catalog in {manifest.catalog or 'its folder (SQLite)'}, "
                f"not {asked}; use another --index for a new one"
            )
        return cls(location, manifest, catalog)

    @classmethod
    def create(
        cls, location: IndexLocation, model: ModelInfo, index_type: str = "auto", catalog: str | None = None
    ) -> IndexStore:
        """A new index. ``index_type``: "auto" (chosen by size) or a FAISS factory string.

        ``catalog``: a ``postgresql://`` URL to keep the catalog on a server (else a SQLite file in
        the folder). A server catalog that holds an index already is joined, if its model is this
        one (the FAISS file is then built from its vectors); another model's is refused."""
        public = dialect.public_url(catalog) if catalog is not None else None
        manifest = Manifest.new(location.path / MANIFEST, model, index_type, DEFAULT_INDEX_TYPE, public)
        if catalog is None:
            location.path.mkdir(parents=True, exist_ok=True)
            store = cls(location, manifest)
        else:  # opened before the folder is made: a refused catalog leaves no folder behind
            store = cls(location, manifest, catalog)
            try:
                store._check_shared(model)
            except BaseException:
                store.close()
                raise
            location.path.mkdir(parents=True, exist_ok=True)
        if store.catalog.get_meta("model") is None:
            store.catalog.set_meta("model", json.dumps(model.to_dict(), sort_keys=True))
        manifest.save()
        return store

    def _check_shared(self, model: ModelInfo) -> None:
        """A server catalog of another model's index is not joined (nothing mixed)."""
        held = self.catalog.get_meta("model")
        other = ModelInfo.from_dict(json.loads(held)) if held is not None else None
        if other is not None and not other.same_model(model.ref):
            raise ModelMismatchError(
                f"catalog {self.catalog.where} holds an index built with {other.ref.label}, not {model.ref.label}; "
                f"use another database (or schema), or --model {other.ref.name} for index {self.location.name!r}"
            )

    def reattach(self, catalog: str) -> None:
        """Use the catalog at ``catalog`` from now on (after ``transfer.move_to_server``), the write
        lock moving with it."""
        held = self._lock_fd is not None
        if self._server_lock is not None:
            self._server_lock.release()
        self.catalog = Catalog(catalog)
        self._server_lock = self._writer_lock()
        if held and self._server_lock is not None:
            self._server_lock.acquire()

    def check_model(self, ref: ModelRef) -> None:
        """Refuse to mix: a different model on this index is an error that says how to rebuild."""
        if not self.model.same_model(ref):
            raise ModelMismatchError(
                f"index {self.location.name!r} was built with {self.model.ref.label}, not {ref.label}; "
                f"rebuild it with: clipsearch index --rebuild --index {self.location.name} --model {ref.name} "
                f"{'--pretrained ' + ref.pretrained + ' ' if ref.kind in {'arch', 'config'} else ''}FOLDER..., "
                "or use another --index"
            )

    def close(self) -> None:
        self.catalog.close()
        self.release_lock()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ locking
    def acquire_lock(self) -> None:
        """Become the only writer, or fail at once naming the process that writes (on a server
        catalog, also the only writer of that catalog, from any machine)."""
        if self._lock_fd is not None:
            return
        self._acquire_folder_lock()
        if self._server_lock is not None:
            try:
                self._server_lock.acquire()
            except BaseException:
                self.release_lock()
                raise

    @property
    def holds_lock(self) -> bool:
        """Whether this process holds the index's writer lock through this store."""
        return self._lock_fd is not None

    def _acquire_folder_lock(self) -> None:
        self._lock_fd = lock_folder(self.location)

    def release_lock(self) -> None:
        if self._server_lock is not None:
            self._server_lock.release()
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ vectors
    @property
    def index_type(self) -> str:
        return self.manifest.index_type

    @property
    def vectors_path(self) -> Path:
        return self.path / self.manifest.vectors_file

    def vectors(self, *, mmap: bool = False) -> VectorIndex | ShardedIndex:
        """The FAISS index, caught up with every change committed to the catalog."""
        if self._vectors is None:
            self._vectors = self._load_vectors(mmap=mmap)
        self._catch_up(self._vectors)
        return self._vectors

    def _load_vectors(self, mmap: bool) -> VectorIndex | ShardedIndex:
        dim = self.model.dim
        sharded = self.manifest.sharded
        if self.index_type.startswith(SHARDED) and sharded:
            try:
                vi = ShardedIndex.load(self.path / sharded, self.vectors_path, self.manifest.nprobe, self.index_type)
                self._synced = self.manifest.synced_seq
                return vi
            except IndexCorruptError:
                pass  # exact search rebuilt from the catalog below; the next optimise builds shards again
        elif self.vectors_path.is_file():
            try:
                vi = VectorIndex.load(self.vectors_path, dim, self.index_type, mmap=mmap, nprobe=self.manifest.nprobe)
                self._synced = self.manifest.synced_seq
                return vi
            except IndexCorruptError:
                pass  # rebuilt below from the catalog, which is the source of truth
        self._synced = 0
        return VectorIndex.create(dim, DEFAULT_INDEX_TYPE)  # filled from the catalog by _catch_up

    def _catch_up(self, vi: VectorIndex | ShardedIndex) -> None:
        seq = self.catalog.seq()
        if seq == self._synced:
            return
        if self._synced == 0 and vi.ntotal == 0 and isinstance(vi, VectorIndex):
            fresh = VectorIndex.build(self.model.dim, self.catalog.all_vectors(self.model.dim), DEFAULT_INDEX_TYPE)
            vi.index, vi.index_type = fresh.index, fresh.index_type
            self.manifest.vectors_changed(index_type=fresh.index_type, file=VECTORS, drop=("sharded",))
        else:
            removed, ids, vecs = self.catalog.changes_since(self._synced, self.model.dim)
            vi.apply(removed, ids, vecs)
        self._synced = seq

    def rebuild_vectors(self, index_type: str | None = None) -> VectorIndex | ShardedIndex:
        """Rebuild the FAISS index from the catalog's stored vectors and save it (the writer's job).

        For an approximate type, nprobe is tuned on the collection for recall@10 >= 0.95 against
        exact search, and recorded in the manifest with the recall reached. A ``sharded:`` type is
        built from shards of the catalog into a new folder; the manifest switching to it is the
        commit point, and the folder it replaces is deleted after."""
        # too few vectors left to train it (e.g. after deletions): exact search until there are
        index_type = trainable_type(index_type or self.index_type, self.catalog.count(), self.model.dim)
        seq = self.catalog.seq()
        manifest = self.manifest
        old_file = manifest.vectors_file  # deleted once the manifest no longer names it
        fresh: VectorIndex | ShardedIndex
        if index_type.startswith(SHARDED):
            name = f"vectors-{seq}-{time.time_ns() % 10**9:09d}.sharded"  # never the folder being replaced
            build_from_chunks(self.catalog.all_vectors(self.model.dim), factory_of(index_type), self.path / name)
            fresh = ShardedIndex(self.path / name, index_type=index_type)
            manifest.vectors_changed(sharded=name, file=DELTA)
        else:
            fresh = VectorIndex.build(self.model.dim, self.catalog.all_vectors(self.model.dim), index_type)
            manifest.vectors_changed(file=VECTORS, drop=("sharded",))
        manifest.vectors_changed(index_type=index_type, trained_on=fresh.ntotal)
        if fresh.index_type != DEFAULT_INDEX_TYPE and fresh.ntotal:
            queries, truth = self._tuning_set()
            manifest.vectors_changed(tuned_recall_at_10=round(fresh.tune(queries, truth), 4), nprobe=fresh.nprobe)
        self._vectors = fresh
        self._synced = seq
        self.save_vectors()
        for stale in self.path.glob("vectors-*.sharded"):  # the one replaced, and any a crash left half built
            if stale.name != manifest.sharded:
                shutil.rmtree(stale, ignore_errors=True)
        if old_file != manifest.vectors_file:
            (self.path / old_file).unlink(missing_ok=True)
        return fresh

    def _tuning_set(self, n: int = 200, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Stored vectors as queries and their exact top-k ids (brute force over the catalog)."""
        ids = np.fromiter((r.id for r in self.catalog.items()), dtype=np.int64)
        rng = np.random.default_rng(0)
        chosen = rng.choice(ids, min(n, len(ids)), replace=False)
        queries = self.catalog.vectors(chosen.tolist(), self.model.dim)
        best_s = np.full((len(queries), k), -np.inf, np.float32)
        best_i = np.zeros((len(queries), k), np.int64)
        for cids, vecs in self.catalog.all_vectors(self.model.dim):
            scores = queries @ vecs.T
            merged_s = np.concatenate([best_s, scores], axis=1)
            merged_i = np.concatenate([best_i, np.broadcast_to(cids, scores.shape)], axis=1)
            top = np.argsort(-merged_s, axis=1)[:, :k]
            best_s = np.take_along_axis(merged_s, top, 1)
            best_i = np.take_along_axis(merged_i, top, 1)
        return queries, best_i

    def optimise(self) -> str | None:
        """Switch to the index type the collection's size calls for (or was asked for), atomically.

        Rebuilds when the wanted type differs from the current one, or when an IVF index has grown
        to 8x the collection it was trained on. Returns the new type, or None when nothing changed."""
        count = self.catalog.count()
        requested = self.manifest.requested_index_type
        wanted = choose_index_type(count) if requested == "auto" else requested
        current = self.index_type
        trained_on = self.manifest.trained_on or count
        if wanted == current and not (
            current != DEFAULT_INDEX_TYPE and count > 8 * max(1, trained_on)
        ) and not self._delta_outgrown(count):  # fmt: skip
            return None
        wanted = trainable_type(wanted, count, self.model.dim)  # too few to train what was asked: stay exact
        if wanted == current and current == DEFAULT_INDEX_TYPE:
            return None
        return self.rebuild_vectors(wanted).index_type

    def _delta_outgrown(self, count: int) -> bool:
        """A sharded index's in-memory delta past DELTA_MAX items or 5% of the collection: fold it in."""
        vi = self._vectors
        return isinstance(vi, ShardedIndex) and vi.delta.ntotal > max(DELTA_MAX, 0.05 * count)

    def save_vectors(self) -> None:
        """Persist the FAISS file, then record which catalog seq it holds (the order matters)."""
        if self._vectors is None:
            return
        self._vectors.save(self.vectors_path)
        self.manifest.synced(self._synced, self._vectors.ntotal)

    # ------------------------------------------------------------------ roots
    @property
    def roots(self) -> list[str]:
        """The folders (and files) this index was asked to index, as given (absolute): what the server
        may serve from, and what ``check --repair`` indexes again after salvaging a damaged catalog."""
        return self.manifest.roots

    def remember_roots(self, paths: list[str]) -> None:
        """Add ``paths`` (absolute) to :attr:`roots`; one inside a known root adds nothing."""
        self.manifest.add_roots(paths)

    # ------------------------------------------------------------------ info
    def status(self, *, brief: bool = False) -> dict[str, Any]:
        """What the index holds; ``brief``: the counts alone (items, files, text read and waiting),
        cheap enough to poll while a watcher adds items."""
        from ..models.presets import licence_of

        ocr = self.catalog.get_meta("ocr") or "none"
        waiting, unreadable = self.catalog.text_counts(ocr)
        if brief:
            return {"items": self.catalog.count(), "files": self.catalog.files_count(),
                    "with_text": self.catalog.texts_count(), "waiting_for_text": waiting}  # fmt: skip
        m = self.model
        size = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return {
            "index": self.location.name,
            "path": str(self.path),
            "catalog": self.catalog.where,
            "items": self.catalog.count(),
            "files": self.catalog.files_count(),
            "skipped": len(self.catalog.skipped()),
            "model": m.name,
            "pretrained": m.pretrained,
            "toy_model": m.toy,
            "model_description": m.description,
            "licence": licence_of(m.name, m.pretrained),
            "score_rule": "sigmoid" if m.sigmoid else "softmax",
            "logit_scale": m.logit_scale,
            "logit_bias": m.logit_bias,
            "context_length": m.context_length,
            "dim": m.dim,
            "image_size": m.image_size,
            "precision": self.manifest.precision,
            "encoding": self.manifest.encoding,
            "index_type": self.index_type,
            "index_type_requested": self.manifest.requested_index_type,
            "nprobe": self.manifest.nprobe,
            "tuned_recall_at_10": self.manifest.tuned_recall_at_10,
            "ocr": ocr,
            "ocr_engine": self.catalog.get_meta("ocr_engine") or "auto",
            "with_text": self.catalog.texts_count(),
            "waiting_for_text": waiting,
            "text_unreadable": unreadable,
            "disk_bytes": size,
            "created_at": self.manifest.created_at,
            "updated_at": self.manifest.updated_at,
        }


def lock_folder(location: IndexLocation) -> int:
    """Take the index folder's writer lock (flock, never waits); returns its descriptor. Raises
    IndexLockedError naming the holder's pid, or IndexReadOnlyError for a folder this user can't write."""
    try:
        fd = os.open(location.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise IndexReadOnlyError(
            f"index {location.name!r} ({location.path}) is read-only for this user: searches work, "
            "changes need write access"
        ) from err
    deadline = time.monotonic() + LOCK_SETTLE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK) and not holder \
                    and time.monotonic() < deadline:  # fmt: skip
                time.sleep(0.02)  # no pid yet, or none any more: a writer starting or ending, not writing
                continue
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise IndexLockedError(
                    f"index {location.name!r} is being updated by process {holder or '?'}; try again when it ends"
                ) from err
            raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def remove_index(location: IndexLocation) -> None:
    """Delete an index folder (used by ``--rebuild``), and its catalog's tables when they live on a
    server; refuses while another process writes it."""
    if not location.path.exists():
        return
    if IndexStore.exists(location):
        try:
            store = IndexStore.open(location)
        except CatalogDamagedError:  # nothing in it to keep: the folder's lock is enough to delete it
            fd = lock_folder(location)
            try:
                shutil.rmtree(location.path)
            finally:
                os.close(fd)
            return
        try:
            store.acquire_lock()
            store.catalog.backend.discard(store.catalog.drop)
        finally:
            store.close()
    shutil.rmtree(location.path)


@contextlib.contextmanager
def open_store(location: IndexLocation) -> Iterator[IndexStore]:
    store = IndexStore.open(location)
    try:
        yield store
    finally:
        store.close()
