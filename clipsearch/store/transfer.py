"""Copying a catalog to another engine: a laptop's SQLite index moved onto a PostgreSQL server.

Every row of every table goes across in one transaction on the destination, with its id, so the
FAISS file (whose ids are catalog ids) and the sequence number stay valid and nothing is embedded
again. Texts are re-folded for the destination's full-text index (``Backend.terms``), and the
server's id sequences start past the highest id SQLite ever gave (ids are never reused).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ..errors import UsageError
from .catalog import Catalog
from .dialect import WriterLock, backend_of, is_server_url, public_url
from .folder import CATALOG, IndexStore
from .schema import ITEMS, METADATA, TEXTS

#: Rows per INSERT batch.
BATCH = 2_000


def counts(catalog: Catalog) -> dict[str, int]:
    """Rows per table: what a copy must reproduce."""
    with catalog.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0) for t in METADATA.sorted_tables
        }


def same_content(source: Catalog, destination: Catalog) -> bool:
    """The destination already holds this catalog (a copy that committed before the manifest moved)."""
    same_model = source.get_meta("model") == destination.get_meta("model")
    return same_model and source.seq() == destination.seq() and counts(source) == counts(destination)


def copy_catalog(source: Catalog, destination: Catalog) -> dict[str, int]:
    """Every row of ``source`` into the empty ``destination``; returns rows copied per table."""
    if destination.count() or destination.get_meta("seq") is not None:
        raise UsageError(f"catalog {destination.where} is not empty: move an index only into a new database")
    copied: dict[str, int] = {}
    with source.engine.connect() as src, destination.engine.begin() as dst:
        dst.execute(METADATA.tables["meta"].delete())  # e.g. the model facts a new index wrote
        for table in METADATA.sorted_tables:  # parents before children (foreign keys)
            copied[table.name] = 0
            result = src.execution_options(stream_results=True).execute(select(table))
            while rows := result.fetchmany(BATCH):
                batch = [row_for(dst, table.name, r._asdict()) for r in rows]
                dst.execute(table.insert(), batch)
                copied[table.name] += len(batch)
        _continue_ids(src, dst)
    if copied != counts(destination):
        raise UsageError(f"copy into {destination.where} is incomplete: {copied} against {counts(destination)}")
    return copied


def row_for(dst: Connection, table: str, row: dict[str, Any]) -> dict[str, Any]:
    if table == TEXTS.name:
        row["terms"] = backend_of(dst).terms(row["body"])
    return row


#: Tables whose ids come from a sequence on PostgreSQL.
SERIAL_TABLES = (ITEMS.name, "categories", "category_examples")


def _continue_ids(src: Connection, dst: Connection) -> None:
    """Each serial id continues past the largest id the source gave out, even one since deleted."""
    given = backend_of(src).ids_given(src)
    tops = {}
    for name in SERIAL_TABLES:
        column = METADATA.tables[name].c.id
        tops[name] = max(int(dst.execute(select(func.coalesce(func.max(column), 0))).scalar()), given.get(name, 0))
    backend_of(dst).continue_ids(dst, tops)


def move_to_server(store: IndexStore, url: str) -> dict[str, Any]:
    """Move ``store``'s SQLite catalog onto the PostgreSQL server at ``url`` (writer lock held).

    The manifest naming the server is the commit point: a crash before it leaves the index on
    SQLite as it was (a copy that had committed is recognised and reused by the next try); the
    SQLite file is deleted after it."""
    if store.catalog.backend.shared:
        raise UsageError(f"index {store.location.name!r} keeps its catalog on {store.catalog.where} already")
    if not is_server_url(url):
        raise UsageError(f"move-catalog takes a postgresql:// URL, not {url!r}")
    store.acquire_lock()
    source, destination = store.catalog, Catalog(url)
    lock = WriterLock(destination.engine, store.location.name)  # nobody writes the server meanwhile
    try:
        lock.acquire()
        if destination.count() and same_content(source, destination):
            copied = counts(destination)
        else:
            copied = copy_catalog(source, destination)
    finally:
        lock.release()
        destination.close()
    store.manifest.set_catalog(public_url(url))
    source.close()
    for suffix in ("", "-wal", "-shm"):
        (store.path / f"{CATALOG}{suffix}").unlink(missing_ok=True)
    store.reattach(url)
    return {"index": store.location.name, "catalog": public_url(url), "rows": copied}
