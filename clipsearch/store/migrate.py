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


def ensure_schema(engine: Engine) -> None:
    """Bring the catalog to the schema this code expects (no-op when it is already there)."""
    rev = current_revision(engine)
    if rev == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config(engine)
    known = {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}
    if rev is not None and rev not in known:
        raise IndexCorruptError(
            f"catalog schema {rev!r} is newer than this clipsearch understands (head {SCHEMA_HEAD!r}): "
            "upgrade clipsearch"
        )
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
