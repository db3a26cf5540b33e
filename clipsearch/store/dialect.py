"""What differs between the catalog's two engines, in one place, so the catalog is written once.

- **SQLite** (the default): one file in the index folder, WAL mode so searches never block the
  writer. Nothing to run, copied with the folder.
- **PostgreSQL** (``--catalog postgresql://user@host/db``): a server many processes and machines
  share, for collections past one machine. psycopg 3 underneath. The URL is remembered without its
  password: libpq's ``PGPASSWORD`` or ``~/.pgpass`` supply it, as for ``psql``.

The differences the rest of the code meets: the engine and its settings (:func:`make_engine`),
"insert or replace" (:func:`upsert`), a folder filter that must compare paths byte by byte
(:func:`path_under`), a token that changes whenever anything commits (:func:`change_token`), and
the one-writer lock (:class:`WriterLock`, an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Table, and_, create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import ColumnClause
from sqlalchemy.types import Boolean

from ..errors import (
    CatalogDamagedError,
    CatalogUnavailableError,
    IndexLockedError,
    IndexReadOnlyError,
    StorageFullError,
    UsageError,
)

#: URL schemes that name a PostgreSQL catalog (``postgres://`` as Heroku and libpq accept it).
SERVER_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def is_server_url(target: object) -> bool:
    """True when ``target`` names a catalog on a PostgreSQL server rather than a SQLite file."""
    return isinstance(target, str) and target.split("://", 1)[0].lower() in SERVER_SCHEMES and "://" in target


def _url(target: str) -> URL:
    try:
        url = make_url(target)
    except Exception as err:  # sqlalchemy.exc.ArgumentError: the user's text is not a URL
        raise UsageError(f"--catalog: not a database URL: {target!r} ({err})") from err
    if not url.database:
        raise UsageError(f"--catalog: name the database too, e.g. postgresql://user@host/clipsearch (got {target!r})")
    return url


def public_url(target: str) -> str:
    """The URL as the manifest keeps it: without a password (libpq's PGPASSWORD or ~/.pgpass give it)."""
    url = _url(target)
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False)


def application_name() -> str:
    """How this process appears in ``pg_stat_activity`` (and so in a refused writer's message)."""
    return f"clipsearch pid {os.getpid()} on {socket.gethostname()}"[:63]


def make_engine(target: str | os.PathLike[str]) -> Engine:
    """An engine for a SQLite file (a path) or a PostgreSQL server (a ``postgresql://`` URL)."""
    if is_server_url(target):
        return _server_engine(str(target))
    path = os.fspath(target)
    read_only = _read_only(path)
    if read_only:  # nothing may be written, not even WAL's shared-memory file: read the file as it is
        url = f"sqlite:///file:{quote(os.path.abspath(path))}?mode=ro&immutable=1&uri=true"
        engine = create_engine(url, future=True)
    else:
        engine = create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        """WAL: readers (searches) never block the writer and see a consistent snapshot."""
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "handle_error")
    def _plainly(context):  # type: ignore[no-untyped-def]
        raise_plain(context.original_exception, path)

    return engine


def is_read_only(engine: Engine) -> bool:
    """Whether ``engine`` reads a SQLite catalog this process may not write (see :func:`make_engine`)."""
    return engine.dialect.name == "sqlite" and "mode=ro" in str(engine.url)


def _read_only(path: str) -> bool:
    """Whether this process can only read the SQLite catalog at ``path`` (the file or its folder
    not writable: SQLite needs the folder for its WAL and shared-memory files)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.exists(path):
        return not os.access(folder, os.W_OK)
    return not (os.access(path, os.W_OK) and os.access(folder, os.W_OK))


#: SQLite's messages for a damaged file, a full disk and a refused write, and what each means here.
_DAMAGED = ("malformed", "not a database", "database corrupt")
_FULL = ("database or disk is full", "no space left")
_READ_ONLY = ("readonly database", "read-only", "attempt to write a readonly")


def raise_plain(err: BaseException, where: str) -> None:
    """Raise the clipsearch error a storage fault means (damage, a full disk, a read-only index),
    so every command says it in one line with its exit code; other errors pass through."""
    text = str(err).lower()
    if any(s in text for s in _DAMAGED):
        raise CatalogDamagedError(
            f"catalog {where} is damaged ({str(err).splitlines()[0][:80]}): run `clipsearch check --repair`"
        ) from err
    if any(s in text for s in _FULL):
        raise StorageFullError(f"disk full writing {where}: free some space and run the command again") from err
    if any(s in text for s in _READ_ONLY):
        raise IndexReadOnlyError(
            f"{where} is read-only for this user: searches work, changes need write access"
        ) from err


def _server_engine(target: str) -> Engine:
    try:
        import psycopg  # noqa: F401  (the driver; imported here for a clear message when missing)
    except ImportError as err:
        raise CatalogUnavailableError(
            "a PostgreSQL catalog needs psycopg 3: pip install 'clipsearch[postgresql]'"
        ) from err
    url = _url(target).set(drivername="postgresql+psycopg")
    engine = create_engine(
        url,
        future=True,
        pool_pre_ping=True,  # a server restart between two queries of `serve` is not an error
        connect_args={"application_name": application_name(), "connect_timeout": 10},
    )

    @event.listens_for(engine, "connect")
    def _settings(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        """A search's queries return a handful of rows: starting parallel workers for them costs
        more than the scan they would share (`make bench`: catalog)."""
        with dbapi_conn.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_conn.commit()

    return engine


def describe(target: str | os.PathLike[str]) -> str:
    """The catalog as messages and ``status`` name it: the file, or the URL without password."""
    return public_url(str(target)) if is_server_url(target) else os.fspath(target)


def unavailable(target: str | os.PathLike[str], err: BaseException) -> CatalogUnavailableError:
    """One line for a server that cannot be reached (the driver's first line says why)."""
    lines = [line.strip() for line in str(getattr(err, "orig", err)).splitlines() if line.strip()]
    reason = " ".join(lines[:2]) if lines else type(err).__name__
    if "password" in reason.lower():
        reason += " (the URL is kept without its password: set PGPASSWORD or add it to ~/.pgpass)"
    return CatalogUnavailableError(f"cannot reach catalog {describe(target)}: {reason}")


# ---------------------------------------------------------------------- statements
def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert ``rows``, replacing those whose ``keys`` already exist (SQLite's INSERT OR REPLACE).

    Rows repeating a key are folded first (the last wins): PostgreSQL refuses one statement that
    touches a row twice."""
    if not rows:
        return
    folded = list({tuple(r[k] for k in keys): r for r in rows}.values())
    insert = _insert(conn)(table)
    others = [c for c in folded[0] if c not in keys]
    statement = (
        insert.on_conflict_do_update(index_elements=list(keys), set_={c: insert.excluded[c] for c in others})
        if others
        else insert.on_conflict_do_nothing(index_elements=list(keys))
    )
    conn.execute(statement, folded)


def insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, leaving alone those that exist already (INSERT OR IGNORE)."""
    if rows:
        conn.execute(_insert(conn)(table).on_conflict_do_nothing(), list(rows))


def _insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class _PathUnder(ColumnElement[bool]):
    """``column`` is a path inside ``folder``: every such path sorts between 'FOLDER/' and 'FOLDER0'
    ('0' follows '/'), so the path index answers it as a range, in byte order."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, column: ColumnClause[Any], folder: str) -> None:
        self.column = column
        self.folder = folder


def path_under(column: Any, folder: str) -> ColumnElement[bool]:
    """The condition "``column`` is a path under ``folder``" (recursively)."""
    return _PathUnder(column, folder)


@compiles(_PathUnder)
def _path_under_sqlite(element: _PathUnder, compiler: Any, **kw: Any) -> str:
    col = element.column
    return compiler.process(and_(col > element.folder + "/", col < element.folder + "0"), **kw)


@compiles(_PathUnder, "postgresql")
def _path_under_postgresql(element: _PathUnder, compiler: Any, **kw: Any) -> str:
    # a database's collation (en_US...) ignores punctuation when it sorts: compare as bytes
    col = element.column.collate("C")
    return compiler.process(and_(col > element.folder + "/", col < element.folder + "0"), **kw)


def change_token(engine: Engine, sqlite_file: Path | None) -> tuple[int, ...]:
    """A value that changes whenever anything commits to the catalog, for caches of query answers.

    SQLite: the file's and its WAL's size and time (no query at all). PostgreSQL: the next
    transaction id the server will hand out, which every writing transaction moves on."""
    if engine.dialect.name != "postgresql":
        out: list[int] = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(f"{sqlite_file}{suffix}")
                out += [st.st_mtime_ns, st.st_size]
            except OSError:
                out += [0, 0]
        return tuple(out)
    with engine.connect() as conn:
        return (int(conn.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).scalar()),)


# ---------------------------------------------------------------------- the writer
class WriterLock:
    """One writer per PostgreSQL catalog, whichever machine it runs on: a session-level advisory
    lock held on its own connection for the whole run. The server drops it when that connection
    ends, so a killed writer (``kill -9``, a lost machine) never leaves the catalog locked.
    Readers take no lock: PostgreSQL's snapshots let them read during a write."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._conn: Connection | None = None

    def key(self, conn: Connection) -> int:
        """The lock's number: this catalog's schema in this database (two indexes may share a server)."""
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        digest = hashlib.blake2b(f"clipsearch writer:{schema}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") >> 1  # 63 bits: pg_locks shows it as two unsigned halves

    def acquire(self) -> None:
        if self._conn is not None:
            return
        conn = self.engine.connect()
        try:
            key = self.key(conn)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise IndexLockedError(
                    f"index {self.name!r} is being updated by {self._holder(conn, key)}; try again when it ends"
                )
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @staticmethod
    def _holder(conn: Connection, key: int) -> str:
        row = conn.execute(
            text(
                "SELECT a.application_name, a.client_addr::text AS addr FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = (:k)::bigint"
            ),
            {"k": key},
        ).first()
        if row is None:
            return "another process"
        where = f" from {row.addr}" if row.addr else ""
        return f"{row.application_name or 'another process'}{where}"

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
                self._conn.commit()
            except Exception:
                pass
            finally:
                self._conn.close()
                self._conn = None


# ---------------------------------------------------------------------- one object per engine
class Backend:
    """What the catalog's engine does its own way, asked of one object (:func:`backend_of`): the
    rest of ``store/`` calls these and never asks which server it is on. This one is SQLite's."""

    #: the engine's name: also the key of its full-text engine (``textengines.ENGINES``)
    name = "sqlite"
    #: the catalog lives on a server other processes and machines share (not in the index folder)
    shared = False

    def terms(self, body: str) -> str:
        """What the full-text index holds for ``body`` (``texts.terms``)."""
        from .fulltext import searchable

        return searchable(body)

    def integrity(self, engine: Engine, deep: bool) -> list[str]:
        """What the engine finds wrong with the catalog ([] when sound): SQLite's ``quick_check``,
        or the slower ``integrity_check`` that compares every index with its table."""
        try:
            with engine.connect() as conn:
                rows = [
                    str(r) for r in conn.execute(text(f"PRAGMA {'integrity' if deep else 'quick'}_check")).scalars()
                ]
        except CatalogDamagedError as err:
            return [str(err)]
        return [] if rows == ["ok"] else rows[:20]

    def checkpoint(self, engine: Engine, analyze: Any) -> None:
        """The end of a writer's run: the WAL folded into the main file, so a copied index folder
        is complete on its own (``analyze``: the server's statistics refresh, not needed here)."""
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

    def writer_lock(self, engine: Engine, name: str) -> WriterLock | None:
        """The one-writer lock beside the index folder's own (None: the folder's flock is enough)."""
        return None

    def creates_at_head(self) -> bool:
        """Whether a new, empty catalog is created at the schema's head without running migrations."""
        return True

    def hold_migrations(self, conn: Connection) -> None:
        """Wait for any other process migrating the same catalog (one file: nobody else can)."""

    def ids_given(self, conn: Connection) -> dict[str, int]:
        """The largest id each table ever gave out, deleted rows included (``sqlite_sequence``)."""
        from sqlalchemy import inspect

        if not inspect(conn).has_table("sqlite_sequence"):
            return {}
        return {r.name: int(r.seq) for r in conn.execute(text("SELECT name, seq FROM sqlite_sequence"))}

    def continue_ids(self, conn: Connection, tables: dict[str, int]) -> None:
        """After a copy in: each table's next id follows ``tables[name]`` (SQLite: the rows do)."""

    def discard(self, drop: Any) -> None:
        """A ``--rebuild``: the catalog goes with its folder (``drop`` drops a server's tables)."""


class ServerBackend(Backend):
    """PostgreSQL's ways: the catalog is the server's to verify and to lock, its statistics
    refreshed after a bulk load, its ids from sequences, its tables dropped on a rebuild."""

    name = "postgresql"
    shared = True

    def terms(self, body: str) -> str:
        from .fulltext import server_terms

        return server_terms(body)

    def integrity(self, engine: Engine, deep: bool) -> list[str]:
        return []  # the server's to verify

    def checkpoint(self, engine: Engine, analyze: Any) -> None:
        analyze()  # autovacuum refreshes the planner's statistics only a while after a bulk load

    def writer_lock(self, engine: Engine, name: str) -> WriterLock | None:
        return WriterLock(engine, name)

    def creates_at_head(self) -> bool:
        return False  # several machines may open a new catalog at once: the migration's lock decides

    def hold_migrations(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})

    def continue_ids(self, conn: Connection, tables: dict[str, int]) -> None:
        for name, top in tables.items():
            if top:
                conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"), {"t": name, "v": top})

    def discard(self, drop: Any) -> None:
        drop()


#: A transaction-level advisory lock key that serialises migrations of one PostgreSQL catalog.
MIGRATION_LOCK = 0x636C69707365617
_BACKENDS = {"sqlite": Backend(), "postgresql": ServerBackend()}


def backend_of(bind: Connection | Engine) -> Backend:
    """The backend of an engine or a connection: the one place that asks which server it is."""
    return _BACKENDS[bind.dialect.name]
