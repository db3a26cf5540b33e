"""The catalog schema is Alembic's: head on an empty DB equals the models, and is applied on open."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from clipsearch.catalog import SCHEMA_HEAD, Base, Catalog
from clipsearch.migrate import alembic_config, current_revision


def test_upgrade_head_on_empty_db_matches_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    cfg = alembic_config(engine)
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_code_head_is_the_script_head():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def test_opening_a_catalog_migrates_it_automatically(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    assert current_revision(catalog.engine) == SCHEMA_HEAD
    assert {"items", "removed", "skipped", "meta"} <= set(inspect(catalog.engine).get_table_names())
    with catalog.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    catalog.close()
