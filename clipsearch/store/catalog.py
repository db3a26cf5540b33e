"""The catalog: every item's metadata and a durable copy of its vector, in SQLite or PostgreSQL.

The catalog is the source of truth. Every change is committed in one transaction tagged with a
sequence number (``seq``); the FAISS file records the last ``seq`` it contains, so after a crash the
vector index catches up from the catalog instead of the two ever disagreeing. Vectors are kept
here too (float32 blobs) so the FAISS index can be rebuilt, retrained or relabelled without the model.

Schema changes go through Alembic (``migrations/``), applied automatically on open. The same code
and the same migrations serve both engines; what differs lives in ``dialect.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import delete, false, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ClipsearchError, IndexCorruptError
from . import dialect, extras, fulltext, textengines
from .blobs import from_blobs, to_blob, unit_rows
from .extras import Extras
from .fulltext import TextHit
from .schema import ITEMS, META, METADATA, REGIONS, REMOVED, SKIPPED, TEXTS


@dataclass(frozen=True, kw_only=True)
class ItemFile:
    """What the catalog keeps of an item beside its vector, a column of ``schema.ITEMS`` each,
    written when the item is embedded and read back with it. A column is declared here (and in the
    schema, with its migration): :class:`ItemRow` and :class:`NewItem` take it, and the catalog
    writes and reads it by these names."""

    path: str
    page: int
    size: int
    mtime_ns: int
    content_hash: str
    width: int
    height: int
    phash: bytes | None = field(default=None, repr=False)  # 16 bytes no reader of a repr wants
    time: float | None = None  # a video frame's time, seconds


@dataclass(frozen=True, kw_only=True)
class ItemRow(ItemFile):
    """One item as the catalog holds it: a picture, a page of a PDF or a frame of a video."""

    id: int
    extras_version: int = 0
    ocr_mode: str | None = None
    taken: str | None = None  # ISO local time the picture was taken, where known


@dataclass(frozen=True, kw_only=True)
class NewItem(ItemFile):
    """One item to add, or to put in place of an existing one: its file, page, vector and what was read."""

    vector: np.ndarray
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    extras: Extras | None = None

    @classmethod
    def again(cls, row: ItemRow, vector: np.ndarray, **changes: Any) -> NewItem:
        """``row``'s item with ``vector``: every fact of its file kept but ``changes`` (a repair's
        re-embed; the same bytes found at another path, which keep their picture's facts)."""
        return cls(**{**{name: getattr(row, name) for name in FILE_COLUMNS}, **changes}, vector=vector)


#: The columns an :class:`ItemFile` names, and those an :class:`ItemRow` reads.
FILE_COLUMNS = tuple(f.name for f in fields(ItemFile))
ROW_COLUMNS = tuple(f.name for f in fields(ItemRow))


class Replace(NamedTuple):
    """An item embedded again in place: same id, new bytes and vector."""

    id: int
    item: NewItem


class Move(NamedTuple):
    """An item whose file moved or was touched with the same bytes: its vector is kept."""

    id: int
    path: str
    size: int
    mtime_ns: int


class Skip(NamedTuple):
    """A file that could not be indexed, remembered with why until its bytes change."""

    path: str
    size: int
    mtime_ns: int
    reason: str


class Enrich(NamedTuple):
    """An unchanged item's text and metadata filled in (its vector untouched)."""

    id: int
    extras: Extras


class TextRead(NamedTuple):
    """What the text pass read of one item (``text`` None: none found; ``error``: unreadable, and why)."""

    id: int
    content_hash: str
    text: str | None
    #: the OCR mode it was read under; None: not done (read again on the next run)
    mode: str | None
    error: str | None = None
    #: The lines' boxes as JSON, ``[[x0, y0, x1, y1, text], ...]`` in fractions of the picture.
    boxes: str | None = None


def _row(r: Any) -> ItemRow:
    return ItemRow(**{name: getattr(r, name) for name in ROW_COLUMNS})


class Catalog:
    """Typed access to one index's catalog. All writes go through :meth:`commit_batch`.

    ``target``: a SQLite file's path, or a ``postgresql://`` URL (see ``dialect.py``)."""

    def __init__(self, target: str | os.PathLike[str], *, migrate: bool = True) -> None:
        self.target = target
        self.engine = dialect.make_engine(target)
        #: what this engine does its own way (``dialect.Backend``)
        self.backend = dialect.backend_of(self.engine)
        #: the SQLite file (None on a server)
        self.path = None if self.backend.shared else Path(target)
        self._ids_cache: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}
        try:
            if migrate:
                from .migrate import ensure_schema

                ensure_schema(self.engine)
        except ClipsearchError:
            self.engine.dispose()
            raise
        except OperationalError as err:
            self.engine.dispose()
            if self.backend.shared:
                raise dialect.unavailable(target, err) from err
            raise IndexCorruptError(f"cannot open catalog {self.path}: {err.orig}") from err

    @property
    def where(self) -> str:
        """The catalog as a person reads it: the SQLite file, or the server URL without password."""
        return dialect.describe(self.target)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ reading
    def seq(self) -> int:
        with self.engine.connect() as conn:
            return self._seq(conn)

    @staticmethod
    def _seq(conn: Connection) -> int:
        value = conn.execute(select(META.c.value).where(META.c.key == "seq")).scalar()
        return int(value) if value is not None else 0

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(ITEMS)).scalar() or 0)

    def item_ids(self) -> np.ndarray:
        """Every item's id, in id order (int64)."""
        with self.engine.connect() as conn:
            return np.fromiter(conn.execute(select(ITEMS.c.id).order_by(ITEMS.c.id)).scalars(), np.int64)

    def texts_count(self) -> int:
        """Items with a text (a PDF text layer, or text OCR read)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(TEXTS)).scalar() or 0)

    def files_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count(func.distinct(ITEMS.c.path)))).scalar() or 0)

    def items(self) -> Iterator[ItemRow]:
        cols = [ITEMS.c[name] for name in ROW_COLUMNS]
        with self.engine.connect() as conn:
            for r in conn.execute(select(*cols).order_by(ITEMS.c.id)):
                yield _row(r)

    def get(self, ids: Sequence[int]) -> dict[int, ItemRow]:
        cols = [ITEMS.c[name] for name in ROW_COLUMNS]
        out: dict[int, ItemRow] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 900):
                for r in conn.execute(select(*cols).where(ITEMS.c.id.in_(chunk))):
                    out[r.id] = _row(r)
        return out

    def find_path(self, path: str) -> list[ItemRow]:
        cols = [ITEMS.c[name] for name in ROW_COLUMNS]
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(*cols).where(ITEMS.c.path == path))]

    def ids_at_seq(self, seq: int) -> list[int]:
        """Ids of items added or re-embedded by the batch committed as ``seq``."""
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(select(ITEMS.c.id).where(ITEMS.c.seq == seq))]

    def vectors(self, ids: Sequence[int], dim: int) -> np.ndarray:
        """Stored vectors for ``ids`` in that order (rows of zeros for unknown ids)."""
        found: dict[int, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 900):
                for r in conn.execute(select(ITEMS.c.id, ITEMS.c.vector).where(ITEMS.c.id.in_(chunk))):
                    found[r.id] = r.vector
        out = np.zeros((len(ids), dim), dtype=np.float32)
        for i, item_id in enumerate(ids):
            if item_id in found:
                out[i] = np.frombuffer(found[item_id], dtype=np.float32)
        return out

    def changes_since(self, seq: int, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(removed ids, changed ids, their vectors) committed after ``seq``: what FAISS lacks."""
        with self.engine.connect() as conn:
            removed = [r.id for r in conn.execute(select(REMOVED.c.id).where(REMOVED.c.seq > seq))]
            rows = conn.execute(select(ITEMS.c.id, ITEMS.c.vector).where(ITEMS.c.seq > seq)).all()
        ids, vecs = from_blobs(rows, dim)
        return np.asarray(removed, dtype=np.int64), ids, vecs

    def vector_rows(self, chunk: int = 50_000) -> Iterator[list[Any]]:
        """Every (id, vector blob) row in id order, a chunk at a time (keyset paging, bounded memory)."""
        last = -1
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(ITEMS.c.id, ITEMS.c.vector).where(ITEMS.c.id > last).order_by(ITEMS.c.id).limit(chunk)
                ).all()
            if not rows:
                return
            last = rows[-1].id
            yield list(rows)

    def all_vectors(self, dim: int, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, vectors) in id order, in chunks, for rebuilding the vector index."""
        for rows in self.vector_rows(chunk):
            yield from_blobs(rows, dim)

    def region_vectors(self, region: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, vectors) of every stored ``region`` vector."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(REGIONS.c.item_id.label("id"), REGIONS.c.vector).where(REGIONS.c.region == region)
            ).all()
        return from_blobs(rows, dim)

    def item_regions(self, ids: Sequence[int], dim: int) -> dict[int, dict[str, np.ndarray]]:
        out: dict[int, dict[str, np.ndarray]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 900):
                for r in conn.execute(select(REGIONS).where(REGIONS.c.item_id.in_(chunk))):
                    vector = np.frombuffer(r.vector, np.float32) if len(r.vector) == dim * 4 else None
                    if vector is not None and unit_rows(vector):
                        out.setdefault(r.item_id, {})[r.region] = vector
        return out

    def skipped(self) -> dict[str, tuple[int, int, str]]:
        with self.engine.connect() as conn:
            return {r.path: (r.size, r.mtime_ns, r.reason) for r in conn.execute(select(SKIPPED))}

    def extras(self, ids: Sequence[int]) -> dict[int, Extras]:
        """Text and metadata of ``ids`` (those that exist)."""
        out: dict[int, Extras] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 900):
                out.update(extras.read(conn, chunk))
        return out

    def search_text(self, words: str, limit: int, where: ColumnElement[bool] | None = None) -> list[TextHit]:
        """Full-text search (see ``fulltext.py`` and ``textengines.py``), restricted by ``where`` on items."""
        with self.engine.connect() as conn:
            return textengines.search(conn, words, limit, where)

    def text_boxes(self, ids: Sequence[int], words: str) -> dict[int, list[list[float]]]:
        """For each of ``ids``, the boxes of its OCR lines that hold a term of ``words`` (as
        ``search --text`` matches them), in fractions of the picture; items without any left out."""
        out: dict[int, list[list[float]]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 900):
                query = select(TEXTS.c.item_id, TEXTS.c.boxes).where(
                    TEXTS.c.item_id.in_(chunk), TEXTS.c.boxes.is_not(None)
                )
                for r in conn.execute(query):
                    if found := fulltext.boxes_holding(r.boxes, words):
                        out[int(r.item_id)] = found
        return out

    def ids_where(self, where: ColumnElement[bool]) -> np.ndarray:
        """Ids of the items meeting ``where`` (a condition on ``items``), for vector-search filters.

        A long-lived reader (the server) asks the same filter again and again: the last few answers
        are kept until the catalog changes (any commit, by any process, touches the WAL file)."""
        statement = select(ITEMS.c.id).where(where)
        compiled = statement.compile(self.engine, compile_kwargs={"literal_binds": True})
        key = (str(compiled), self.change_token())
        cached = self._ids_cache.get(key)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            ids = np.fromiter(conn.execute(statement).scalars(), dtype=np.int64)
        if len(self._ids_cache) >= 8:
            self._ids_cache.pop(next(iter(self._ids_cache)))
        self._ids_cache[key] = ids
        return ids

    def change_token(self) -> tuple[int, ...]:
        """Changes whenever anything commits to the catalog, from any process."""
        return dialect.change_token(self.engine, self.path)

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(META.c.value).where(META.c.key == key)).scalar()

    # ------------------------------------------------------------------ writing
    def commit_batch(
        self,
        *,
        add: Iterable[NewItem] = (),
        replace: Iterable[Replace] = (),
        move: Iterable[Move] = (),
        remove: Iterable[int] = (),
        skip: Iterable[Skip] = (),
        unskip: Iterable[str] = (),
        enrich: Iterable[Enrich] = (),
    ) -> int:
        """Apply one batch of changes atomically under a new ``seq``; returns that seq.

        ``move`` keeps the vector (:class:`Move`); ``replace`` re-embeds in place (:class:`Replace`);
        ``skip`` remembers why a file was left out (:class:`Skip`); ``enrich`` fills in an unchanged
        item's text and metadata (:class:`Enrich`).
        """
        now = time.time()
        with self.engine.begin() as conn:
            seq = self._seq(conn) + 1
            dialect.upsert(conn, META, [{"key": "seq", "value": str(seq)}], ["key"])
            remove = list(remove)
            if remove:
                for chunk in _chunks(remove, 900):
                    conn.execute(delete(ITEMS).where(ITEMS.c.id.in_(chunk)))
                dialect.upsert(conn, REMOVED, [{"id": i, "seq": seq} for i in remove], ["id"])
            for item_id, new_path, size, mtime_ns in move:
                # seq is not bumped: the vector is unchanged, FAISS has nothing to do.
                conn.execute(
                    update(ITEMS).where(ITEMS.c.id == item_id).values(path=new_path, size=size, mtime_ns=mtime_ns)
                )
            for item_id, item in replace:
                conn.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(**_values(item, seq, now)))
                conn.execute(delete(REGIONS).where(REGIONS.c.item_id == item_id))
                _insert_regions(conn, item_id, item)
                if item.extras is not None:  # None: re-embedded only (check --repair), text and metadata kept
                    extras.write(conn, item_id, item.extras)
            add = list(add)
            rows = [_values(item, seq, now) for item in add]
            if rows:
                conn.execute(ITEMS.insert(), rows)
            for item in add:
                if item.regions or item.extras:
                    item_id = conn.execute(
                        select(ITEMS.c.id).where(ITEMS.c.path == item.path, ITEMS.c.page == item.page)
                    ).scalar_one()
                    _insert_regions(conn, item_id, item)
                    if item.extras:
                        extras.write(conn, item_id, item.extras)
            for item_id, found in enrich:
                extras.write(conn, item_id, found)
            unskip = list(unskip)
            for chunk in _chunks(unskip, 900):
                conn.execute(delete(SKIPPED).where(SKIPPED.c.path.in_(chunk)))
            skips = [{"path": p, "size": s, "mtime_ns": m, "reason": r} for p, s, m, r in skip]
            dialect.upsert(conn, SKIPPED, skips, ["path"])
        return seq

    # ------------------------------------------------------------------ the text pass
    def _waiting(self, mode: str) -> ColumnElement[bool]:
        weaker = extras.weaker_modes(mode)
        return or_(ITEMS.c.ocr_mode.is_(None), ITEMS.c.ocr_mode.in_(weaker)) if weaker else false()

    def text_waiting(self, mode: str) -> list[ItemRow]:
        """Items whose text an index in OCR ``mode`` has still to read, by path then page. Pages whose
        text layer was read (catalogs from before the text pass) are marked done here, unread."""
        cols = [ITEMS.c[name] for name in ROW_COLUMNS]
        with self.engine.begin() as conn:
            layered = select(TEXTS.c.item_id).where(TEXTS.c.source == "pdf")
            conn.execute(update(ITEMS).where(self._waiting(mode), ITEMS.c.id.in_(layered)).values(ocr_mode="all"))
            rows = conn.execute(select(*cols).where(self._waiting(mode)).order_by(ITEMS.c.path, ITEMS.c.page))
            return [_row(r) for r in rows]

    def read_text_again(self) -> int:
        """Every picture's text to be read again by the next text pass (another engine reads it):
        what was read stays searchable until then; a PDF text layer is not OCR's and stays read.
        Pictures left unreadable are tried again too. Returns how many wait now."""
        layered = select(TEXTS.c.item_id).where(TEXTS.c.source == "pdf")
        with self.engine.begin() as conn:
            done = conn.execute(update(ITEMS).where(ITEMS.c.ocr_mode.is_not(None), ITEMS.c.ocr_mode != "none",
                                                    ITEMS.c.id.not_in(layered))
                                .values(ocr_mode="none", text_error=None))  # fmt: skip
            return int(done.rowcount or 0)

    def text_counts(self, mode: str) -> tuple[int, int]:
        """(items waiting for the text pass, items whose text could not be read)."""
        with self.engine.connect() as conn:
            waiting = conn.execute(select(func.count()).select_from(ITEMS).where(self._waiting(mode))).scalar()
            failed = conn.execute(select(func.count()).select_from(ITEMS).where(ITEMS.c.text_error.is_not(None)))
            return int(waiting or 0), int(failed.scalar() or 0)

    def commit_texts(self, results: Iterable[TextRead]) -> None:
        """One transaction of the text pass (:class:`TextRead` each). An item whose
        bytes changed meanwhile (another hash now) is left alone: the next run reads it again."""
        with self.engine.begin() as conn:
            for item_id, digest, body, mode, error, boxes in results:
                still = conn.execute(select(ITEMS.c.content_hash).where(ITEMS.c.id == item_id)).scalar()
                if still == digest:
                    extras.write_text(conn, item_id, body, mode, error, boxes)

    def set_meta(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            dialect.upsert(conn, META, [{"key": key, "value": value}], ["key"])

    def integrity(self, deep: bool = False) -> list[str]:
        """What SQLite finds wrong with the catalog file (``quick_check``, or the slower
        ``integrity_check`` that also compares every index with its table); [] when sound. A
        PostgreSQL catalog is the server's to verify: []."""
        return self.backend.integrity(self.engine, deep)

    def checkpoint(self) -> None:
        """The end of a writer's run. SQLite: fold the WAL into the main file so a copied index folder
        is complete on its own. PostgreSQL: refresh the planner's statistics once the catalog has
        grown by a tenth (autovacuum does it only a while after a bulk load; until then a filtered
        full-text query at 1M items got a far slower plan; `make bench`: catalog)."""
        self.backend.checkpoint(self.engine, self._analyze_if_grown)

    def _analyze_if_grown(self) -> None:
        items, before = self.count(), int(self.get_meta("analyzed_items") or 0)
        if items == before or (before and abs(items - before) <= before // 10):
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(text("ANALYZE items, texts, labels"))
        except DBAPIError:  # the server's refusal (not the tables' owner...): autovacuum will do it
            return
        self.set_meta("analyzed_items", str(items))

    def drop(self) -> None:
        """Delete every table of this catalog (``--rebuild`` of an index kept on a server; a SQLite
        catalog goes with its folder instead)."""
        with self.engine.begin() as conn:
            METADATA.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _insert_regions(conn: Connection, item_id: int, item: NewItem) -> None:
    rows = [{"item_id": item_id, "region": name, "vector": to_blob(vec)} for name, vec in item.regions.items()]
    if rows:
        conn.execute(REGIONS.insert(), rows)


def _values(item: NewItem, seq: int, now: float) -> dict[str, object]:
    return {**{name: getattr(item, name) for name in FILE_COLUMNS}, "vector": to_blob(item.vector), "seq": seq,
            "indexed_at": now}  # fmt: skip


def _chunks(values: list, size: int) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
