"""Applying Alembic migrations to a catalog, automatically and cheaply.

The scripts live in ``migrations/`` at the repository root and ship in the wheel as the
``clipsearch_migrations`` package. Opening an up-to-date catalog costs one ``SELECT`` (no Alembic
import), which matters for the cold-query path.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from ..errors import IndexCorruptError
from .dialect import backend_of
from .schema import SCHEMA_HEAD


def script_location() -> str:
    """Folder holding Alembic's env.py and versions/ (works installed and from a checkout)."""
    import clipsearch_migrations

    return str(Path(clipsearch_migrations.__file__).parent)


def alembic_config(engine: Engine | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", script_location())
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


#: Schema 0005's full-text index (a copy of the migration's: migrations stay frozen in time, and
#: ``tests/unit/test_catalog_migrations.py`` checks that both ways build the same catalog).
FTS_DDL = (
    "CREATE VIRTUAL TABLE texts_fts USING fts5(terms, content='texts', content_rowid='item_id', "
    'tokenize="unicode61 remove_diacritics 2")',
    "CREATE VIRTUAL TABLE texts_fts_vocab USING fts5vocab(texts_fts, 'row')",
    "CREATE TRIGGER texts_fts_ai AFTER INSERT ON texts BEGIN "
    "INSERT INTO texts_fts(rowid, terms) VALUES (new.item_id, new.terms); END",
    "CREATE TRIGGER texts_fts_ad AFTER DELETE ON texts BEGIN "
    "INSERT INTO texts_fts(texts_fts, rowid, terms) VALUES ('delete', old.item_id, old.terms); END",
    "CREATE TRIGGER texts_fts_au AFTER UPDATE ON texts BEGIN "
    "INSERT INTO texts_fts(texts_fts, rowid, terms) VALUES ('delete', old.item_id, old.terms); "
    "INSERT INTO texts_fts(rowid, terms) VALUES (new.item_id, new.terms); END",
)


def create_current(engine: Engine) -> None:
    """A new, empty catalog built at head directly: the tables from the models, the full-text
    index, and head stamped (Alembic's own recipe for a database built from scratch), without
    importing Alembic or replaying five migrations (`make bench`: one_photo_new_index_s)."""
    from .schema import METADATA

    with engine.begin() as conn:
        METADATA.create_all(conn)
        for statement in FTS_DDL:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_HEAD})


def ensure_schema(engine: Engine) -> None:
    """Bring the catalog to the schema this code expects (no-op when it is already there; a new
    empty SQLite catalog is created at head directly, see :func:`create_current`).

    On PostgreSQL, where several machines may open a new catalog at once, the migration runs in
    one transaction holding a transaction-level advisory lock: the second one waits, then finds
    the schema at head (PostgreSQL's DDL is transactional, so a killed migration leaves nothing)."""
    rev = current_revision(engine)
    if rev == SCHEMA_HEAD:
        return
    backend = backend_of(engine)
    if rev is None and backend.creates_at_head():
        with engine.connect() as conn:
            empty = not inspect(conn).get_table_names()
        if empty:
            create_current(engine)
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    known = {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}
    with engine.begin() as conn:
        backend.hold_migrations(conn)  # then read again: another process may have migrated meanwhile
        if inspect(conn).has_table("alembic_version"):
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if rev is not None and rev not in known:
            raise IndexCorruptError(
                f"catalog schema {rev!r} is newer than this clipsearch understands (head {SCHEMA_HEAD!r}): "
                "upgrade clipsearch"
            )
        if rev != SCHEMA_HEAD:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
