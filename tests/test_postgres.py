"""A catalog on a real PostgreSQL server (tools/pgserver.py starts one per session): the same
migrations, every command as on SQLite, crash safety, one writer across machines, readers never
blocked, and PostgreSQL's own full-text search answering as FTS5 does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, inspect, select, text

from clipsearch.store import dialect
from clipsearch.store.catalog import Catalog
from clipsearch.store.extras import Extras
from clipsearch.store.schema import METADATA, SCHEMA_HEAD, modelled
from tests.conftest import CORPUS, Cli
from tests.helpers import EXE, exif_jpeg, make_folder, names, wait_for
from tools.samples import synthetic_item, text_pdf

#: The server answers loopback host names only (Starlette's test client says 'testserver').
LOCAL = "http://127.0.0.1"


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _items(url: str) -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("items"):
                return -1
            return int(conn.execute(text("SELECT count(*) FROM items")).scalar())
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------------- migrations
def test_upgrade_head_on_an_empty_server_matches_the_models_and_goes_back_down(pg_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from clipsearch.store.migrate import alembic_config, current_revision

    engine = _engine(pg_url)
    cfg = alembic_config()
    for _ in range(2):  # up, down to nothing, up again: both directions work on PostgreSQL
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": modelled, "compare_type": True})
            assert compare_metadata(context, METADATA) == []
            indexes = {i["name"] for t in ("texts", "items") for i in inspect(conn).get_indexes(t)}
            columns = {c["name"]: str(c["type"]) for c in inspect(conn).get_columns("items")}
        assert current_revision(engine) == SCHEMA_HEAD
        assert "texts_fts_gin" in indexes  # PostgreSQL's own full-text index
        assert "items_path_bytes" in indexes  # --under's byte-order path index
        assert columns["mtime_ns"] == columns["size"] == columns["id"] == "BIGINT"  # ns times, > 2 GB files
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_two_processes_opening_a_new_catalog_at_once_migrate_it_once(pg_url):
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Catalog(pg_url).close()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    catalog = Catalog(pg_url)
    assert catalog.count() == 0 and catalog.seq() == 0
    catalog.close()


# ------------------------------------------------------------------------------------ full text
BODIES = [
    "Flange A-1042/7 bracket, qty 12",
    "Bracket A-1042 rev B",
    "Café au lait, naïve résumé",
    "Привет, мир: чертёж вала",
    "中华人民共和国 机械图纸",
    "NEAR OR AND NOT star * here",
    "printed circuit board Ø60 R1.00",
]
QUERIES = ["flange", "a-1042/7", "A-1042", "A-1042/8", "cafe", "resume", "привет", "чертёж", "人民",
           "机械", "print", '"circuit board"', "NEAR OR", "⌀60", "r1.00", "bracket qty", "15", '"unbalanced',
           "*", "OR"]  # fmt: skip


def _texts_catalog(target, bodies: list[str]) -> Catalog:  # type: ignore[no-untyped-def]
    """A catalog at ``target`` (a SQLite path or a server URL) holding one item per text, ids 1..n."""
    catalog = Catalog(target)
    items = [
        synthetic_item(f"/t/{i}.png", np.ones(4, np.float32) / 2, extras=Extras(text=b)) for i, b in enumerate(bodies)
    ]
    catalog.commit_batch(add=items)
    return catalog


def test_postgresql_full_text_finds_what_fts5_finds(pg_url, tmp_path):
    """The same texts in a SQLite and a PostgreSQL catalog: every query finds the same items."""
    found = {}
    for target in (tmp_path / "c.sqlite", pg_url):
        catalog = _texts_catalog(target, BODIES)
        found[str(target)] = {q: sorted(h.item_id for h in catalog.search_text(q, 20)) for q in QUERIES}
        catalog.close()
    sqlite, server = found.values()
    assert server == sqlite
    assert server["a-1042/7"] == [1] and server["A-1042/8"] == [] and server["cafe"] == [3]
    assert server["чертёж"] == [4] and server["人民"] == [5] and server["print"] == [7]


def test_a_query_matching_very_many_texts_is_answered_newest_first_on_both(pg_url, tmp_path, monkeypatch):
    """Past the engine's bound of matches, scoring every one costs too much: newest first instead."""
    from clipsearch.store import textengines

    bodies = ["bolt bolt bolt bolt", "bolt", "a bolt and a nut", "nut", "bolt here"]
    for target in (tmp_path / "c.sqlite", pg_url):
        catalog = _texts_catalog(target, bodies)
        ranked = [h.item_id for h in catalog.search_text("bolt", 10)]
        assert ranked[0] == 1 and sorted(ranked) == [1, 2, 3, 5], target  # the text saying it most comes first
        monkeypatch.setattr(textengines, "FTS5_COMMON", 2)
        monkeypatch.setattr(textengines, "TSVECTOR_COMMON", 2)
        assert [h.item_id for h in catalog.search_text("bolt", 3)] == [5, 3, 2], target
        monkeypatch.undo()
        # a word nearly everywhere is not weighed (BM25 would count its texts): checked on what the rest finds
        monkeypatch.setattr(textengines, "FTS5_COMMON", 2)
        monkeypatch.setattr(textengines, "VERY_COMMON", 1)
        assert [h.item_id for h in catalog.search_text("bolt nut", 10)] == [3], target
        assert [h.item_id for h in catalog.search_text("nut bolt", 10)] == [3], target
        monkeypatch.undo()
        catalog.close()


def test_a_common_word_is_matched_whole_on_both(pg_url, tmp_path, monkeypatch):
    """A word in more texts than the bound stands for itself, not for every word it starts: its
    prefix would make the index gather all those words' texts first. Both engines answer alike."""
    from sqlalchemy import text

    from clipsearch.store import textengines

    monkeypatch.setattr(textengines, "FTS5_COMMON", 5)
    monkeypatch.setattr(textengines, "TSVECTOR_COMMON", 5)
    bodies = [f"bolt {i}" for i in range(10)] + ["bolted nut", "bolt nut", "a nut"]
    for target in (tmp_path / "c.sqlite", pg_url):
        catalog = _texts_catalog(target, bodies)
        if target == pg_url:
            with catalog.engine.begin() as conn:  # the planner's statistics, as autovacuum leaves them
                conn.execute(text("ANALYZE texts"))
        assert [h.item_id for h in catalog.search_text("bolt nut", 10)] == [12], target
        assert [h.item_id for h in catalog.search_text("bolte", 10)] == [11], target  # a rare word: a prefix
        catalog.close()


# ------------------------------------------------------------------------------ every command
@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Photos, drawings, a PDF with a text layer, and dated JPEGs."""
    root = tmp_path / "corpus"
    for name in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "horse.png"]:
        (root / "photos").mkdir(parents=True, exist_ok=True)
        shutil.copy2(CORPUS / "photos" / name, root / "photos" / name)
    shutil.copy2(CORPUS / "photos" / "chelsea.png", root / "photos" / "chelsea-copy.png")  # an exact duplicate
    for name in ["BM_part.jpg", "Gripper.jpg"]:
        (root / "drawings").mkdir(exist_ok=True)
        shutil.copy2(CORPUS / "drawings" / name, root / "drawings" / name)
    text_pdf(root / "docs" / "order.pdf", ["Purchase order, page one", "Item A-1042/7 bracket, qty 12"])
    exif_jpeg(root / "dated" / "old.jpg", "2019:05:01 10:00:00", (200, 40, 40))
    exif_jpeg(root / "dated" / "new.jpg", "2023:07:10 12:30:00", (40, 40, 200))
    return root


def _answers(cli: Cli, corpus: Path) -> dict[str, object]:
    """What a user sees from each command, paths made relative (the two indexes hold the same files)."""

    def rel(results: list[dict]) -> list[tuple[str, int]]:
        return [(str(Path(r["path"]).relative_to(corpus)), r.get("page") or 0) for r in results]

    groups = cli.json("duplicates")
    return {
        "text": rel(cli.json("search", "a photo of a cat", "-k", "20")),
        "image": rel(cli.json("search", str(corpus / "drawings" / "Gripper.jpg"), "-k", "5")),
        "words": rel(cli.json("search", "--text", "A-1042/7")),
        "under": sorted(rel(cli.json("search", "--under", str(corpus / "photos"), "-k", "50"))),
        "dated": rel(cli.json("search", "--after", "2023", "--sort", "date")),
        "type": sorted(rel(cli.json("search", "--type", "pdf"))),
        "duplicates": sorted((g["tier"], sorted(Path(m["path"]).name for m in g["items"])) for g in groups),
        "categories": cli.json("category", "list"),  # facets, categories and how many items each labels
    }


def test_every_command_answers_on_postgresql_as_on_sqlite(tmp_path, corpus, pg_url, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    on_sqlite, on_server = Cli(tmp_path / "a"), Cli(tmp_path / "b")
    first = on_sqlite.json("index", str(corpus), "--model", "tiny-shapes")
    report = on_server.json("index", str(corpus), "--model", "tiny-shapes", "--catalog", pg_url)
    assert report["added"] == first["added"] == 11 and report["items"] == first["items"]
    manifest = json.loads((tmp_path / "b" / "default" / "manifest.json").read_text())
    assert manifest["catalog"] == pg_url.replace(":clipsearch-test-secret", "")  # remembered without password
    assert not (tmp_path / "b" / "default" / "catalog.sqlite").exists()
    catalog = Catalog(pg_url)
    assert catalog.get_meta("analyzed_items") == "12"  # the planner's statistics refreshed after the bulk load
    catalog.close()

    # later commands find the password where libpq looks (PGPASSWORD, ~/.pgpass) — or say it is missing
    refused = on_server("search", "a cat", ok=False)
    assert refused.exit_code == 7 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "cannot reach catalog postgresql://postgres@127.0.0.1" in refused.stderr
    assert "set PGPASSWORD or add it to ~/.pgpass" in refused.stderr
    monkeypatch.setenv("PGPASSWORD", "clipsearch-test-secret")
    assert _answers(on_server, corpus) == _answers(on_sqlite, corpus)
    status = on_server.json("status")
    assert status["items"] == first["items"] == 12 and status["catalog"] == manifest["catalog"]
    assert on_server.json("check")["ok"]

    # an update: a file changed, one moved, one deleted — both engines end in the same state
    (corpus / "photos" / "horse.png").rename(corpus / "photos" / "horse-moved.png")
    (corpus / "dated" / "old.jpg").unlink()
    again = [cli.json("index", str(corpus)) for cli in (on_sqlite, on_server)]
    timings = {"seconds": again[0]["seconds"], "encoding": again[0]["encoding"], "phases": again[0]["phases"],
               "text": {**again[1]["text"], "seconds": again[0]["text"]["seconds"]}}  # fmt: skip
    assert again[0] == {**again[1], **timings}
    assert again[1]["moved"] == 1 and again[1]["removed"] == 1
    assert _answers(on_server, corpus) == _answers(on_sqlite, corpus)
    assert on_server.json("check")["ok"]

    # writes from the other commands: a category of one's own, a dismissed duplicate group
    for cli in (on_sqlite, on_server):
        cli.json("category", "add", "drawing", "--facet", "kind", "--prompt", "a technical drawing")
        group = cli.json("duplicates", "--by", "exact")[0]["group"]
        cli("duplicates", "--dismiss", group)
    assert _answers(on_server, corpus) == _answers(on_sqlite, corpus)
    assert on_server.json("duplicates", "--by", "exact") == []

    # the web page's API on the server catalog
    from fastapi.testclient import TestClient

    from clipsearch.config import IndexLocation
    from clipsearch.server import create_app

    pages = [
        TestClient(create_app(IndexLocation(home, "default")), base_url=LOCAL)
        for home in (tmp_path / "a", tmp_path / "b")
    ]
    found = [
        [Path(h["path"]).name for h in c.get("/api/search", params={"q": "a cat", "k": 5}).json()["results"]]
        for c in pages
    ]
    assert found[0] == found[1] and len(found[1]) == 5


def test_a_long_lived_reader_sees_other_processes_commits_through_its_filter_cache(pg_url):
    from clipsearch.store.schema import ITEMS

    reader, writer = Catalog(pg_url), Catalog(pg_url)
    vec = np.ones(4, np.float32) / 2
    writer.commit_batch(add=[synthetic_item("/a/1.png", vec)])
    under_a = dialect.path_under(ITEMS.c.path, "/a")
    assert sorted(reader.ids_where(under_a).tolist()) == [1]
    writer.commit_batch(add=[synthetic_item("/a/2.png", vec)])  # another "process"
    assert sorted(reader.ids_where(under_a).tolist()) == [1, 2]
    assert reader.ids_where(dialect.path_under(ITEMS.c.path, "/a/1.png")).tolist() == []  # a file is no folder
    with reader.engine.connect() as conn:  # the folder filter can use the byte-order path index
        conn.execute(text("SET enable_seqscan = off"))
        query = select(ITEMS.c.id).where(under_a).compile(reader.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {query}")))
    assert "items_path_bytes" in plan, plan
    reader.close()
    writer.close()


def test_a_laptop_index_moves_onto_the_server_without_embedding_again(tmp_path, corpus, pg_url, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "clipsearch-test-secret")
    url = pg_url.replace(":clipsearch-test-secret", "")
    laptop, reference = Cli(tmp_path / "laptop"), Cli(tmp_path / "reference")
    folder = tmp_path / "laptop" / "default"
    for cli in (laptop, reference):
        cli.json("index", str(corpus), "--model", "tiny-shapes")
        cli.json("category", "add", "drawing", "--facet", "kind", "--prompt", "a technical drawing")
    catalog = Catalog(folder / "catalog.sqlite")
    highest = max(r.id for r in catalog.items())  # the last file scanned: photos/rocket.jpg
    catalog.close()
    shutil.move(corpus / "photos" / "rocket.jpg", tmp_path / "rocket.jpg")  # the highest id goes
    for cli in (laptop, reference):
        cli.json("index", str(corpus))

    moved = laptop.json("move-catalog", url)
    assert moved["catalog"] == url and moved["rows"]["items"] == 11 and moved["rows"]["labels"] > 0
    assert not (folder / "catalog.sqlite").exists()
    assert json.loads((folder / "manifest.json").read_text())["catalog"] == url
    assert _answers(laptop, corpus) == _answers(reference, corpus)  # texts, labels, vectors all came along
    assert names(laptop.json("search", "--text", "A-1042/7")) == ["order.pdf#2"]  # PostgreSQL's full text
    assert laptop.json("check")["ok"]

    shutil.move(tmp_path / "rocket.jpg", corpus / "photos" / "rocket.jpg")
    again = laptop.json("index", str(corpus))
    assert again["added"] == 1 and again["embedded"] == 1 and again["unchanged"] == 10  # only the new file ran
    catalog = Catalog(pg_url)
    (rocket,) = [r.id for r in catalog.items() if r.path.endswith("rocket.jpg")]
    catalog.close()
    assert rocket > highest  # past every id SQLite gave out, the deleted one's included

    twice = laptop("move-catalog", url, ok=False)
    assert twice.exit_code == 2 and "already" in twice.stderr
    other = Cli(tmp_path / "other")
    other.json("index", str(corpus / "photos"), "--model", "tiny-shapes")
    refused = other("move-catalog", url, ok=False)  # a database holding another index is not overwritten
    assert refused.exit_code == 2 and "not empty" in refused.stderr
    assert (tmp_path / "other" / "default" / "catalog.sqlite").exists()


def test_rebuild_and_model_mixing_on_a_shared_catalog(tmp_path, corpus, pg_url, tiny_model, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "clipsearch-test-secret")
    url = pg_url.replace(":clipsearch-test-secret", "")
    machine_a, machine_b = Cli(tmp_path / "a"), Cli(tmp_path / "b")
    monkeypatch.setenv("CLIPSEARCH_CATALOG", url)  # the environment names the catalog of a new index
    machine_a.json("index", str(corpus / "photos"), "--model", "tiny-shapes")
    # a second machine joins the shared catalog: nothing re-embedded, its vector file built from the catalog
    joined = machine_b.json("index", str(corpus / "photos"), "--model", "tiny-shapes")
    assert joined["embedded"] == 0 and joined["unchanged"] == 6
    assert names(machine_b.json("search", "a cat", "-k", "3")) == names(machine_a.json("search", "a cat", "-k", "3"))
    # another model is refused on that catalog: vectors of two models never mix
    other = Cli(tmp_path / "c")("index", str(corpus / "photos"), *tiny_model.args, ok=False)
    assert other.exit_code == 4 and "holds an index built with" in other.stderr
    # an existing index keeps its catalog
    moved = machine_a("index", str(corpus / "photos"), "--catalog", url.replace("/test_", "/x_"), ok=False)
    assert moved.exit_code == 2 and "keeps its catalog in" in moved.stderr
    # --rebuild empties the server's tables too
    rebuilt = machine_a.json("index", str(corpus / "drawings"), "--model", "tiny-shapes", "--rebuild")
    assert rebuilt["added"] == 2 and rebuilt["items"] == 2 and _items(pg_url) == 2


def test_an_unreachable_server_is_one_line_before_any_model_loads(tmp_path, corpus):
    cli = Cli(tmp_path / "home")
    start = time.monotonic()
    result = cli("index", str(corpus / "photos"), "--catalog", "postgresql://nobody@127.0.0.1:1/none", ok=False)
    assert result.exit_code == 7 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("clipsearch: error: cannot reach catalog postgresql://nobody@127.0.0.1:1/none:")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "home" / "default" / "manifest.json").exists()
    for wrong in ("sqlite:///elsewhere.db", str(tmp_path / "x.sqlite"), "postgresql://host-but-no-database"):
        refused = cli("index", str(corpus / "photos"), "--catalog", wrong, ok=False)
        assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert not (tmp_path / "x.sqlite").exists() and not (tmp_path / "home" / "default").exists()


# ------------------------------------------------------------------------- crashes and writers
def _index(home: Path, folder: Path, url: str, *extra: str) -> subprocess.Popen:
    args = [EXE, "index", str(folder), "--model", "tiny-shapes", "--catalog", url, "--batch-size", "1",
            "--commit-every", "1", "--workers", "1", "--json", *extra]  # fmt: skip
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "CLIPSEARCH_OCR": "none", "PGPASSWORD": "clipsearch-test-secret"}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check(home: Path) -> dict:
    env = {**os.environ, "CLIPSEARCH_HOME": str(home), "PGPASSWORD": "clipsearch-test-secret"}
    proc = subprocess.run([EXE, "check", "--json"], env=env, capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)


def test_sigkill_then_check_and_resume_on_postgresql(tmp_path, pg_url):
    n = 40
    folder = make_folder(tmp_path / "pics", n, size=500)
    home = tmp_path / "home"
    url = pg_url.replace(":clipsearch-test-secret", "")
    killed_at = []
    for target in (3, 12, 20):
        proc = _index(home, folder, url)
        ok = wait_for(lambda t=target: _items(pg_url) >= t, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not ok:
            continue
        killed_at.append(_items(pg_url))
        report = _check(home)
        assert report["ok"] and report["duplicate_vectors_count"] == 0, report
    assert len(killed_at) >= 2, killed_at
    before = _items(pg_url)
    proc = _index(home, folder, url)  # the killed writers' advisory locks went with their sessions
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    final = json.loads(out)
    assert final["items"] == n and final["embedded"] == n - before  # nothing done twice, nothing lost
    report = _check(home)
    assert report["ok"] and report["items"] == report["vectors"] == n


def test_one_writer_across_machines_and_readers_during_a_write(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "clipsearch-test-secret")
    url = pg_url.replace(":clipsearch-test-secret", "")
    folder = make_folder(tmp_path / "pics", 30, size=500)
    reader = Cli(tmp_path / "reader")
    reader.json("index", str(folder / "img000.png"), "--model", "tiny-shapes", "--catalog", url)
    writer = _index(tmp_path / "writer", folder, url)  # "another machine": its own folder, the same catalog
    try:
        assert wait_for(lambda: _items(pg_url) >= 3, writer)
        refused = reader("index", str(folder), ok=False)  # the reader's folder is free: the server refuses
        assert refused.exit_code == 6, refused.stderr
        assert f"being updated by clipsearch pid {writer.pid} on" in refused.stderr
        seen, searches = [], 0
        while writer.poll() is None and searches < 40:
            start = time.monotonic()
            hits = reader.json("search", str(folder / "img001.png"), "-k", "100", "--include-self")
            assert time.monotonic() - start < 20  # never waits for the writer
            seen.append(len(hits))
            searches += 1
        assert searches > 0 and seen == sorted(seen)  # each search sees the items committed by then
    finally:
        _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert len(reader.json("search", str(folder / "img001.png"), "-k", "100", "--include-self")) == 30


def test_a_reader_is_not_blocked_by_an_open_write_transaction(pg_url, tmp_path):
    catalog = Catalog(pg_url)
    vec = np.ones(4, np.float32) / 2
    catalog.commit_batch(add=[synthetic_item("/a.png", vec)])
    engine = _engine(pg_url)
    with engine.connect() as conn:  # a writer mid-transaction, holding row locks
        conn.execute(text("UPDATE meta SET value = '99' WHERE key = 'seq'"))
        conn.execute(text("DELETE FROM items"))
        start = time.monotonic()
        assert catalog.count() == 1 and catalog.seq() == 1  # the last committed state, at once
        assert time.monotonic() - start < 2
        conn.rollback()
    engine.dispose()
    catalog.close()


def test_the_url_is_stored_without_its_password():
    url = "postgresql://alice:s3cret@db.example:5433/photos?sslmode=require"
    assert dialect.public_url(url) == "postgresql://alice@db.example:5433/photos?sslmode=require"
    assert dialect.is_server_url(url) and not dialect.is_server_url("/tmp/catalog.sqlite")
    with pytest.raises(Exception, match="name the database"):
        dialect.public_url("postgresql://alice@db.example")


def test_a_move_that_fails_half_way_leaves_both_sides_as_they_were(tmp_path, corpus, pg_url, monkeypatch):
    from clipsearch import api
    from clipsearch.store import transfer

    monkeypatch.setenv("PGPASSWORD", "clipsearch-test-secret")
    cli = Cli(tmp_path / "home")
    cli.json("index", str(corpus), "--model", "tiny-shapes")
    before = names(cli.json("search", "a cat", "-k", "20"))

    def broken(dst, table, row):  # the connection drops while the texts go across
        if table == "texts":
            raise ConnectionError("server closed the connection")
        return row

    monkeypatch.setattr(transfer, "row_for", broken)
    with pytest.raises(ConnectionError):
        api.move_catalog(pg_url, home=tmp_path / "home")
    assert _items(pg_url) == 0  # the copy was one transaction: nothing half there
    assert "catalog" not in json.loads((tmp_path / "home" / "default" / "manifest.json").read_text())
    assert names(cli.json("search", "a cat", "-k", "20")) == before  # the SQLite index as it was
    monkeypatch.undo()
    monkeypatch.setenv("PGPASSWORD", "clipsearch-test-secret")
    assert api.move_catalog(pg_url, home=tmp_path / "home")["rows"]["items"] == 12
    assert names(cli.json("search", "a cat", "-k", "20")) == before
