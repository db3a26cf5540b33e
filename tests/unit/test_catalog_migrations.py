"""The catalog schema is Alembic's: head on an empty DB equals the models, and is applied on open."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from clipsearch.store.catalog import Catalog
from clipsearch.store.migrate import alembic_config, current_revision
from clipsearch.store.schema import FTS_PREFIX, METADATA, SCHEMA_HEAD


def test_upgrade_head_on_empty_db_matches_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    cfg = alembic_config(engine)
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, _: not (kind == "table" and name.startswith(FTS_PREFIX))}
        )
        diff = compare_metadata(context, METADATA)
        fts = set(inspect(conn).get_table_names()) - set(METADATA.tables)
    assert diff == []
    assert "texts_fts" in fts and all(name.startswith(FTS_PREFIX) for name in fts - {"alembic_version"})


def _schema(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").all()
    # SQLite keeps each statement's text as written: compare what is built, not the spelling
    return {(t, n) for t, n, _ in rows}


def test_a_new_catalog_built_at_head_equals_upgrading_through_every_migration(tmp_path):
    from clipsearch.store.migrate import create_current

    upgraded = create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    command.upgrade(alembic_config(upgraded), "head")
    built = create_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    create_current(built)
    assert _schema(built) == _schema(upgraded)
    assert current_revision(built) == SCHEMA_HEAD
    for engine in (upgraded, built):
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_name": lambda name, kind, _: not (kind == "table" and name.startswith(FTS_PREFIX))}
            )
            assert compare_metadata(context, METADATA) == []
    for table in ("items", "texts", "categories"):
        with upgraded.connect() as a, built.connect() as b:
            cols_a = [(r[1], r[2], r[3], r[5]) for r in a.exec_driver_sql(f"PRAGMA table_info({table})")]
            cols_b = [(r[1], r[2], r[3], r[5]) for r in b.exec_driver_sql(f"PRAGMA table_info({table})")]
        assert sorted(cols_a) == sorted(cols_b), table
    with built.begin() as conn:  # the full-text triggers work on the built catalog
        conn.exec_driver_sql(
            "INSERT INTO items (id, path, page, size, mtime_ns, content_hash, width, height, vector, seq, "
            "indexed_at) VALUES (1, '/a.jpg', 0, 1, 1, 'h', 1, 1, x'00', 1, 0)"
        )
        conn.exec_driver_sql("INSERT INTO texts (item_id, source, body, terms) VALUES (1, 'ocr', 'b', 'flange')")
        assert conn.exec_driver_sql("SELECT rowid FROM texts_fts WHERE texts_fts MATCH 'flange'").scalar() == 1


def test_code_head_is_the_script_head():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def test_opening_a_catalog_migrates_it_automatically(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    assert current_revision(catalog.engine) == SCHEMA_HEAD
    assert {"items", "removed", "skipped", "meta"} <= set(inspect(catalog.engine).get_table_names())
    with catalog.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    catalog.close()


def test_first_schema_fixture_migrates_forward_with_data_intact(tmp_path):
    """tests/fixtures/catalog-0001.sqlite was written by schema 0001 and must stay readable forever."""
    import shutil
    from pathlib import Path

    import numpy as np

    fixture = Path(__file__).parents[1] / "fixtures" / "catalog-0001.sqlite"
    db = tmp_path / "old.sqlite"
    shutil.copy(fixture, db)
    catalog = Catalog(db)  # migrates automatically
    assert current_revision(catalog.engine) == SCHEMA_HEAD
    rows = list(catalog.items())
    assert [r.path for r in rows] == ["/photos/img0.jpg", "/photos/img2.jpg", "/photos/img3.jpg", "/photos/img4.jpg"]
    assert rows[0].size == 1000 and rows[0].width == 640 and rows[0].content_hash == f"{0:040x}"
    assert catalog.seq() == 2
    vecs = catalog.vectors([r.id for r in rows], 8)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    assert catalog.skipped() == {"/photos/bad.jpg": (10, 5, "cannot decode image: truncated")}
    removed, ids, _ = catalog.changes_since(1, 8)
    assert removed.tolist() == [2] and ids.tolist() == []
    catalog.close()
