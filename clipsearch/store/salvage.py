"""A damaged SQLite catalog copied, row by row, into a fresh one: what can still be read is kept.

SQLite stores each table as a B-tree of pages; a truncated file or a page of random bytes makes
some pages unreadable, not all. Reading each table in short ranges of rowid, and row by row where a
range fails, keeps every row whose page is sound. The fresh catalog is made at the current schema
(its triggers fill the full-text index as the texts go in), then swapped in atomically; the damaged
file is kept beside it for the record. What is lost is counted per table, so ``check --repair``
can say it, and the files are indexed again for the items whose rows were lost.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import IndexLocation
from ..errors import UsageError

#: Tables copied, parents before children (foreign keys), with the rowid column each is read by.
TABLES = (
    ("meta", "rowid"),
    ("items", "id"),
    ("removed", "rowid"),
    ("skipped", "rowid"),
    ("categories", "id"),
    ("category_examples", "id"),
    ("facets", "rowid"),
    ("labels", "rowid"),
    ("regions", "rowid"),
    ("dismissed_pairs", "rowid"),
    ("texts", "rowid"),
)
_RANGE = 512  # rows read at once; a failing range is read again row by row


@dataclass
class SalvageReport:
    #: table -> rows copied into the fresh catalog
    kept: dict[str, int] = field(default_factory=dict)
    #: table -> rows (or, where even the count is unreadable, ranges) that could not be read
    lost: dict[str, int] = field(default_factory=dict)
    #: tables whose structure could not be read at all
    unreadable: list[str] = field(default_factory=list)
    #: where the damaged file was kept
    damaged_copy: str = ""


def salvage(damaged: Path, fresh: Path) -> SalvageReport:
    """Copy what can be read of the SQLite catalog ``damaged`` into ``fresh`` (an empty catalog at
    the current schema, made by the caller). Neither file is renamed here."""
    report = SalvageReport()
    src = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    dst = sqlite3.connect(fresh)
    dst.execute("PRAGMA foreign_keys=ON")
    try:
        for table, key in TABLES:
            columns = _columns(src, table) if table != "meta" else ["key", "value"]
            wanted = [c for c in _columns(dst, table) if c in set(columns)] if columns else []
            if not wanted:
                report.unreadable.append(table)
                continue
            kept = lost = 0
            insert = f"INSERT OR IGNORE INTO {table} ({', '.join(wanted)}) VALUES ({', '.join('?' * len(wanted))})"
            for ok, row in _rows(src, table, key, wanted):
                if not ok:
                    lost += 1
                    continue
                try:
                    dst.execute(insert, row)
                    kept += 1
                except sqlite3.Error:  # a row that refers to a lost parent, or fails a constraint
                    lost += 1
            dst.commit()
            report.kept[table], report.lost[table] = kept, lost
    finally:
        src.close()
        dst.close()
    return report


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    except sqlite3.Error:
        return []


def _bounds(conn: sqlite3.Connection, table: str, key: str) -> tuple[int, int] | None:
    try:
        lo, hi = conn.execute(f"SELECT min({key}), max({key}) FROM {table}").fetchone()
    except sqlite3.Error:
        return None
    return (int(lo), int(hi)) if lo is not None else (0, -1)


def _rows(conn: sqlite3.Connection, table: str, key: str, columns: list[str]) -> Iterator[tuple[bool, Any]]:
    """(True, row) for each readable row, (False, None) for each range or row that is not."""
    select = f"SELECT {', '.join(columns)} FROM {table}"
    bounds = _bounds(conn, table, key)
    if bounds is None:  # even the index of rowids is damaged: a plain scan, as far as it goes
        try:
            for row in conn.execute(select):
                yield True, row
        except sqlite3.Error:
            yield False, None
        return
    lo, hi = bounds
    for start in range(lo, hi + 1, _RANGE):
        try:
            rows = conn.execute(f"{select} WHERE {key} BETWEEN ? AND ?", (start, start + _RANGE - 1)).fetchall()
        except sqlite3.Error:
            rows = None
        if rows is not None:
            for row in rows:
                yield True, row
            continue
        for one in range(start, min(hi, start + _RANGE - 1) + 1):
            try:
                row = conn.execute(f"{select} WHERE {key} = ?", (one,)).fetchone()
            except sqlite3.Error:
                yield False, None
                continue
            if row is not None:
                yield True, row


def swap_in(damaged: Path, fresh: Path) -> str:
    """Put ``fresh`` where ``damaged`` was (one rename); keep the damaged file and its WAL beside it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = damaged.with_name(f"{damaged.stem}.damaged-{stamp}{damaged.suffix}")
    os.replace(damaged, kept)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{damaged}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{kept}{suffix}"))
    os.replace(fresh, damaged)
    return str(kept)


def salvage_catalog(location: IndexLocation) -> SalvageReport:
    """Replace the damaged SQLite catalog of the index at ``location`` by what can be read of it,
    holding the folder's writer lock. A server catalog is the server's to repair: refused."""
    from .catalog import Catalog
    from .folder import CATALOG, lock_folder
    from .manifest import MANIFEST, Manifest

    manifest = Manifest.read(location.path / MANIFEST)
    if manifest.catalog:
        raise UsageError(f"the catalog of index {location.name!r} lives on {manifest.catalog}: "
                         "repair it with the server's own tools (pg_dump, pg_amcheck)")  # fmt: skip
    damaged = location.path / CATALOG
    fresh = location.path / f"{CATALOG}.salvage"
    fd = lock_folder(location)
    try:
        for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
            leftover.unlink(missing_ok=True)  # a salvage interrupted before: start it again
        Catalog(fresh).close()  # the current schema, triggers included
        report = salvage(damaged, fresh)
        with sqlite3.connect(fresh) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report.damaged_copy = swap_in(damaged, fresh)
    finally:
        os.close(fd)
    return report
