"""Acting on duplicate groups: a plan first, moves only when confirmed, targets relative to the
indexed folder, never a keeper, a page, a frame or an unnamed revision; undo restores the index too."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from clipsearch.models.demo_shapes import generate_folder
from clipsearch.query.duplicates import Group, Member
from clipsearch.query.moves import plan_moves
from clipsearch.store.catalog import ItemRow

CORPUS = Path(__file__).parent / "corpus"


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    generate_folder(folder, per_class=2, seed=1)  # 60 distinct pictures
    return folder


def test_unique_pictures_move_nothing(cli, shapes, tmp_path):
    cli.json("index", str(shapes), "--model", "tiny-shapes")
    before = _files(shapes)
    dest = tmp_path / "dupes"
    for extra in ((), ("--yes",)):
        plan = cli.json("duplicates", "--move-to", str(dest), *extra)
        assert plan["to_move"] == 0 and plan["moved"] == 0 and plan["log"] is None
        assert all(not e["move"] and e["why"] for e in plan["entries"])  # each says why it stays
    assert _files(shapes) == before
    assert not dest.exists() or not _files(dest)
    assert cli.json("status")["items"] == len(before)


@pytest.fixture
def with_copies(shapes: Path) -> tuple[Path, list[Path]]:
    """The shapes plus byte copies of three of them in subfolders (newer: the originals are kept)."""
    originals = sorted(shapes.glob("*.png"))[:3]
    copies = []
    for n, original in enumerate(originals):
        copy = shapes / "sub" / f"deeper{n}" / original.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(original, copy)
        copies.append(copy)
    return shapes, copies


def test_moves_need_yes_without_a_terminal(cli, with_copies, tmp_path):
    folder, copies = with_copies
    cli.json("index", str(folder), "--model", "tiny-shapes")
    items = cli.json("status")["items"]
    dest = tmp_path / "dupes"

    refused = cli("duplicates", "--by", "exact", "--move-to", str(dest), ok=False)
    assert refused.exit_code == 2  # a usage error: nothing was confirmed
    assert "--yes" in refused.stderr and "nothing moved" in refused.stderr
    assert "move " in refused.stdout  # the plan was shown
    assert all(c.is_file() for c in copies) and not (dest.exists() and _files(dest))
    assert cli.json("status")["items"] == items

    done = cli.json("duplicates", "--by", "exact", "--move-to", str(dest), "--yes")
    assert done["moved"] == len(copies) == done["to_move"] and done["problems"] == []
    for copy in copies:
        assert not copy.exists()
        assert (dest / copy.relative_to(folder)).is_file()  # DEST/<path relative to the indexed folder>
    assert all((folder / c.name).is_file() for c in copies)  # the keepers stay
    assert cli.json("status")["items"] == items - len(copies)
    log = [json.loads(line) for line in Path(done["log"]).read_text().splitlines()]
    assert log[0]["index"] == "default" and len(log) == 1 + len(copies)


def test_undo_restores_files_and_index(cli, with_copies, tmp_path):
    folder, copies = with_copies
    cli.json("index", str(folder), "--model", "tiny-shapes")
    cli.json("index", str(folder / "sub"), "--index", "other", "--model", "tiny-shapes")
    before = cli.json("status")
    done = cli.json("duplicates", "--by", "exact", "--move-to", str(tmp_path / "dupes"), "--yes")
    assert done["moved"] == len(copies)

    # a log from another index is refused before anything moves
    other = cli("duplicates", "--undo", done["log"], "--index", "other", ok=False)
    assert other.exit_code == 2 and "'default'" in other.stderr
    assert not any(c.exists() for c in copies)

    undone = cli.json("duplicates", "--undo", done["log"])
    assert undone == {"restored": len(copies), "problems": []}
    assert all(c.is_file() for c in copies)
    after = cli.json("status")
    assert (after["items"], after["files"]) == (before["items"], before["files"])
    assert len(cli.json("duplicates", "--by", "exact")) == len(copies)


def _row(item_id: int, path: Path, *, page: int = 0, content: str | None = None, time: float | None = None) -> ItemRow:
    return ItemRow(id=item_id, path=str(path), page=page, size=10, mtime_ns=item_id, content_hash=content or str(path),
                   width=10, height=10, time=time)  # fmt: skip


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_revision_groups_move_only_when_named(tmp_path):
    root, dest = tmp_path / "drawings", tmp_path / "dest"
    a, b = root / "A-100.png", root / "old" / "A-100-rev1.png"
    _touch(a, b)
    store = SimpleNamespace(roots=[str(root)])
    revision = Group("g1", "revision", [Member(_row(1, a), "centre", None, keeper=True),
                                        Member(_row(2, b, content=str(a)), "revision", 0.97)])  # fmt: skip
    for tiers in ((), ("exact", "perceptual")):
        entries = plan_moves(store, [revision], dest, tiers).entries  # type: ignore[arg-type]
        assert entries[0].why == "keeper"
        assert not entries[1].moves and "revision" in (entries[1].why or "")  # even a byte copy stays
    named = plan_moves(store, [revision], dest, ("revision",)).moving  # type: ignore[arg-type]
    assert [(m.source, m.target) for m in named] == [(str(b), str(dest / "old" / "A-100-rev1.png"))]


def test_planner_never_moves_pages_frames_or_keepers(tmp_path):
    root, dest = tmp_path / "lib", tmp_path / "dest"
    keep, copy, near = root / "k.jpg", root / "x" / "k.jpg", root / "near.jpg"
    pdf, pdf2, video, stray = root / "doc.pdf", root / "d" / "doc2.pdf", root / "v.mp4", tmp_path / "elsewhere.jpg"
    taken = dest / "x" / "k.jpg"
    _touch(keep, copy, near, pdf, pdf2, video, stray)
    store = SimpleNamespace(roots=[str(root)])
    groups = [
        Group("p", "semantic", [Member(_row(1, keep), "centre", None, keeper=True),
                                  Member(_row(2, copy, content=str(keep)), "exact", 0.0),
                                  Member(_row(3, near), "semantic", 0.97),
                                  Member(_row(4, pdf, page=2), "perceptual", 3.0),
                                  Member(_row(5, video, page=1, time=2.5), "perceptual", 3.0),
                                  Member(_row(6, stray, content=str(keep)), "exact", 0.0)]),
        Group("d", "document", [Member(_row(7, pdf), "centre", None, keeper=True),
                                Member(_row(8, pdf2), "document", 0.99)]),
    ]  # fmt: skip
    why = {(e.source, e.page): e for e in plan_moves(store, groups, dest).entries}  # type: ignore[arg-type]
    assert why[(str(keep), 0)].why == "keeper" and why[(str(pdf), 0)].why == "keeper"
    assert why[(str(copy), 0)].target == str(taken)  # a byte copy of the keeper moves, folders kept
    assert why[(str(stray), 0)].target == str(dest / "_elsewhere" / "elsewhere.jpg")
    assert "semantic" in (why[(str(near), 0)].why or "")  # a match by meaning, not named: stays
    assert "page of a PDF" in (why[(str(pdf), 2)].why or "")
    assert "video frame" in (why[(str(video), 1)].why or "")
    assert why[(str(pdf2), 0)].target == str(dest / "d" / "doc2.pdf")  # a whole PDF, a copy page by page
    named = {e.source: e for e in plan_moves(store, groups, dest, ("semantic",)).moving}  # type: ignore[arg-type]
    assert set(named) == {str(copy), str(stray), str(near), str(pdf2)}
    _touch(taken)  # an existing target is never overwritten
    again = {e.source: e for e in plan_moves(store, groups, dest).entries}  # type: ignore[arg-type]
    assert not again[str(copy)].moves and "not overwritten" in (again[str(copy)].why or "")


def test_a_document_moves_whole_and_comes_back(cli, tmp_path):
    from clipsearch import Index

    folder = tmp_path / "docs"
    (folder / "copies").mkdir(parents=True)
    shutil.copy(CORPUS / "documents" / "pdflatex-4-pages.pdf", folder / "report.pdf")
    shutil.copy(CORPUS / "documents" / "pdflatex-4-pages.pdf", folder / "copies" / "report.pdf")
    shutil.copy(CORPUS / "photos" / "coffee.png", folder / "coffee.png")
    cli.json("index", str(folder), "--model", "tiny-shapes")
    with Index.open(home=cli.home) as ix:
        rows = {r.path: r for r in ix.store.catalog.items()}
        original, copy = rows[str(folder / "report.pdf")], rows[str(folder / "copies" / "report.pdf")]
        whole = [Member(dataclasses.replace(r, page=0), "document", 0.99) for r in (original, copy)]
        whole[0].keeper = True
        plan = ix.duplicates.plan([Group("doc", "document", whole)], tmp_path / "dest")
        assert [e.source for e in plan.moving] == [copy.path]  # a byte copy of the kept PDF
        report = ix.duplicates.move(plan)
        assert report.moved == 1 and not Path(copy.path).exists()
        assert ix.status()["items"] == 5  # all four pages of the copy left the index
        assert (tmp_path / "dest" / "copies" / "report.pdf").is_file()
        restored, problems = ix.duplicates.undo(report.log)
        assert (restored, problems) == (1, [])
        assert ix.status()["items"] == 9


def test_a_terminal_is_asked_first(cli, with_copies, tmp_path, monkeypatch):
    from clipsearch.cli import cli as command
    from clipsearch.cli import duplicates

    folder, copies = with_copies
    cli.json("index", str(folder), "--model", "tiny-shapes")
    monkeypatch.setattr(duplicates, "can_ask", lambda: True)
    args = ["duplicates", "--by", "exact", "--move-to", str(tmp_path / "dupes")]
    env = {"CLIPSEARCH_HOME": str(cli.home), "CLIPSEARCH_OCR": "none"}
    declined = cli.runner.invoke(command, args, input="n\n", env=env)
    assert declined.exit_code == 0 and "nothing moved" in declined.stderr
    assert all(c.is_file() for c in copies)
    agreed = cli.runner.invoke(command, args, input="y\n", env=env)
    assert agreed.exit_code == 0 and f"moved {len(copies)} files" in agreed.stderr
    assert not any(c.exists() for c in copies)


def test_a_deleted_keeper_never_costs_the_last_copy(cli, with_copies, tmp_path):
    """A keeper deleted since the index was made: its group is not reported (nothing to keep it
    against) and a move takes nothing, so the copy left is never moved away; a deleted copy is
    left out of its group, and of similar pictures."""
    folder, copies = with_copies
    cli.json("index", str(folder), "--model", "tiny-shapes")
    kept = sorted(folder.glob("*.png"))[:3]
    kept[0].unlink()  # the keeper of the first copy's group
    copies[1].unlink()  # a copy of the second
    groups = cli.json("duplicates", "--by", "exact")
    members = {Path(m["path"]) for g in groups for m in g["items"]}
    assert kept[0] not in members and copies[0] not in members and copies[1] not in members
    assert {kept[2], copies[2]} <= members
    plan = cli.json("duplicates", "--by", "exact", "--move-to", str(tmp_path / "dupes"), "--yes")
    assert plan["moved"] == 1 and copies[0].is_file() and not copies[2].exists()
    near = [Path(r["path"]) for r in cli.json("similar", str(kept[1]), "-k", "60")]
    assert copies[1] not in near and kept[0] not in near and len(near) == len(set(near))
