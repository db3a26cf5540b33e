"""Near-duplicates among documents, as a user sees them (the generated set of clipsearch.query.doceval).

Reports in one layout and drawings in one title-block template (look-alikes that are not copies),
copies made from the rendered page (half size, JPEG 40, a grey scan, an image-only PDF), revisions
with one line changed, a logo in three colours, and a three-page manual with an image-only copy (the
same document) and a copy of its first two pages (not the same document). The small set is indexed
once with the default OCR, as a user's first `clipsearch index` would, and grouped once with the
default tiers; the tests read that one answer. `make eval` runs the full set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from clipsearch.query.doceval import DocumentTruth, build_document_set, score_documents


@dataclass
class Indexed:
    root: Path
    truth: DocumentTruth
    cli: object
    groups: list[dict]
    scores: dict


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Indexed:
    from tests.conftest import Cli

    root = tmp_path_factory.mktemp("documents")
    truth = build_document_set(root / "set", size="small")
    cli = Cli(root / "home", ocr="auto")  # the default OCR: copies carry no text layer
    cli.json("index", str(root / "set"), "--model", "tiny-shapes")
    groups = cli.json("duplicates")
    scores = score_documents(groups, truth)
    print("document duplicates:", json.dumps(scores))
    return Indexed(root, truth, cli, groups, scores)


def key(item: dict) -> str:
    return f"{item['path']}#page={item['page']}" if item.get("page") else item["path"]


def shown(keys) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(k.split("/set/", 1)[-1] for k in keys)


def copy_groups(groups: list[dict]) -> list[dict]:
    return [g for g in groups if g["tier"] not in ("revision", "document")]


def test_the_set_is_generated_the_same_way_each_time_and_as_the_truth_says(tmp_path):
    """No index needed: every item of the truth is a file, the originals carry a text layer and the
    copies none, and two builds write the same bytes."""
    from clipsearch.ingest.pdf import document_facts, page_count

    def digests(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip

    truth = build_document_set(tmp_path / "a", size="small")
    build_document_set(tmp_path / "b", size="small")
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    files = {k.split("#page=")[0] for k in truth.pages}
    assert files == {str(p) for p in (tmp_path / "a").rglob("*") if p.is_file()}
    for path, pages in truth.page_counts().items():
        assert page_count(path) == pages, path
        texts, _ = document_facts(path)
        has_text = all(len(t.split()) > 20 for t in texts.values())
        assert has_text == ("-scan" not in Path(path).name), path  # image-only copies are read by OCR
    assert len(truth.pages) == 26 and set(truth.pages) == set(truth.families)
    assert len({n for k, n in truth.pages.items() if truth.families[k] != n}) == 3  # three revisions
    names = {Path(a).name: Path(b).name for a, b in truth.documents}
    assert names.get("manual-scan.pdf") == "manual.pdf"
    assert sorted(Path(b).name for _, b in truth.partial) == ["manual-pages-1-2.pdf"] * 2


def test_the_scorer_counts_pairs_revisions_and_documents_as_documented():
    """Two 2-page PDFs that are one document, a copy of their first page alone, a picture with a
    copy and a revision; scored by hand."""
    truth = DocumentTruth(documents=[("/a.pdf", "/b.pdf")], partial=[("/a.pdf", "/c.pdf"), ("/b.pdf", "/c.pdf")])
    for k, name, family in [("/a.pdf#page=1", "p1", None), ("/a.pdf#page=2", "p2", None), ("/b.pdf#page=1", "p1", None),
                            ("/b.pdf#page=2", "p2", None), ("/c.pdf#page=1", "p1", None), ("/r.png", "p3", None),
                            ("/r-copy.png", "p3", None), ("/r-b.png", "p3-b", "p3")]:  # fmt: skip
        truth.add(k, name, family)

    def group(tier: str, *keys: str) -> dict:
        items = [{"path": k.split("#page=")[0], **({"page": int(k.split("=")[1])} if "#" in k else {})} for k in keys]
        return {"tier": tier, "items": items}

    groups = [group("document", "/a.pdf", "/b.pdf"), group("perceptual", "/c.pdf#page=1", "/a.pdf#page=1"),
              group("perceptual", "/r.png", "/r-b.png"), group("revision", "/r-copy.png", "/r-b.png")]  # fmt: skip
    s = score_documents(groups, truth)
    assert (s["true_pairs"], s["predicted_pairs"], s["precision"], s["recall"], s["f1"]) == (5, 4, 0.75, 0.6, 0.6667)
    assert (s["revisions_as_duplicates"], s["revision_pairs"], s["revision_recall"]) == (1, 2, 0.5)
    assert (s["revision_links"], s["revision_links_found"], s["revision_group_pairs"]) == (1, 1, 1)
    assert (s["copies_as_revisions"], s["unrelated_as_revisions"]) == (0, 0)
    assert (s["documents_found"], s["documents_expected"], s["partial_as_document"]) == (1, 1, 0)
    groups = [group("document", "/a.pdf", "/b.pdf", "/c.pdf"), group("revision", "/r.png", "/r-copy.png")]
    s = score_documents(groups, truth)
    assert (s["predicted_pairs"], s["precision"], s["recall"], s["partial_as_document"]) == (4, 1.0, 0.8, 2)
    assert (s["copies_as_revisions"], s["revision_recall"], s["revision_links_found"]) == (1, 0.0, 0)


def test_copies_are_found_and_look_alikes_are_not(indexed):
    s = indexed.scores
    wrong = [
        shown(key(m) for m in g["items"]) for g in copy_groups(indexed.groups)
        if len({indexed.truth.pages.get(key(m)) for m in g["items"]}) > 1
    ]  # fmt: skip
    assert s["precision"] >= 0.97, f"{s}; groups of different pages: {wrong}"
    assert s["recall"] >= 0.90, s


def test_no_revision_is_reported_as_a_copy(indexed):
    truth = indexed.truth
    mixed = [
        shown(key(m) for m in g["items"]) for g in copy_groups(indexed.groups)
        if len({truth.families.get(key(m)) for m in g["items"]}) < len({truth.pages.get(key(m)) for m in g["items"]})
    ]  # fmt: skip
    assert indexed.scores["revisions_as_duplicates"] == 0, mixed


def test_every_revision_is_found_as_a_revision_and_only_of_its_own_page(indexed):
    s = indexed.scores
    assert s["revision_pairs"] == 3
    revisions = [shown(key(m) for m in g["items"]) for g in indexed.groups if g["tier"] == "revision"]
    assert s["revision_recall"] == 1.0, f"{s}; revision groups: {revisions}"
    assert s["unrelated_as_revisions"] == 0, f"revision groups of different pages: {revisions}"
    assert s["copies_as_revisions"] == 0, f"copies reported as revisions (and not as copies): {revisions}"


def test_recoloured_graphics_are_never_grouped(indexed):
    """Red, blue and green versions of one logo are three pictures; the half-size red is the red's copy."""
    for g in indexed.groups:
        colours = {indexed.truth.pages.get(key(m)) for m in g["items"]} & {"logo-red", "logo-blue", "logo-green"}
        assert len(colours) <= 1, (g["tier"], shown(key(m) for m in g["items"]))
    red = next((g for g in copy_groups(indexed.groups) if any("logo-red-small" in m["path"] for m in g["items"])), None)
    assert red is not None and {Path(m["path"]).name for m in red["items"]} == {"logo-red.png", "logo-red-small.png"}


def test_the_manual_and_its_image_only_copy_are_one_document(indexed):
    folder = indexed.root / "set" / "manual"
    documents = [g for g in indexed.groups if g["tier"] == "document"]
    whole = [g for g in documents if any(m["path"] == str(folder / "manual.pdf") for m in g["items"])]
    assert len(whole) == 1, [shown(key(m) for m in g["items"]) for g in documents]
    assert sorted(key(m) for m in whole[0]["items"]) == [str(folder / "manual-scan.pdf"), str(folder / "manual.pdf")]


def test_a_copy_of_some_pages_is_not_the_same_document_but_its_pages_are_copies(indexed):
    part = str(indexed.root / "set" / "manual" / "manual-pages-1-2.pdf")
    for g in indexed.groups:
        if g["tier"] == "document":
            assert part not in {m["path"] for m in g["items"]}, shown(key(m) for m in g["items"])
    assert indexed.scores["partial_as_document"] == 0
    for n in (1, 2):
        same = [g for g in copy_groups(indexed.groups) if f"{part}#page={n}" in {key(m) for m in g["items"]}]
        assert same and len(same[0]["items"]) >= 2, f"page {n} of the partial copy is in no group of copies"


def test_the_keeper_is_the_original_not_a_lossy_or_image_only_copy(indexed):
    """Where the original is in a group, it is the one kept: the text-layer PDF over its image-only copy,
    the PNG over a JPEG at quality 40 of the same size (a larger file is not a better copy)."""
    marks = ("-half", "-jpeg40", "-scan", "-small")
    wrong = [
        (Path(g["keeper"]).name, shown(key(m) for m in g["items"])) for g in indexed.groups
        if g["tier"] != "revision" and any(mark in Path(g["keeper"]).name for mark in marks)
        and any(not any(mark in Path(m["path"]).name for mark in marks) for m in g["items"])
    ]  # fmt: skip
    assert not wrong, "copies kept over their original:\n" + "\n".join(f"kept {k} of {items}" for k, items in wrong)


def test_move_to_moves_copies_only_never_a_revision_and_undo_puts_them_back(indexed, tmp_path):
    """`--move-to DEST --yes` moves true copies (something moves), keeps every page at least once,
    never moves a member of a revision group nor a PDF that is not a whole copy, and undo restores."""
    truth, cli = indexed.truth, indexed.cli
    result = cli("duplicates", "--move-to", str(tmp_path / "dest"), "--yes")
    logs = sorted((tmp_path / "dest").glob("clipsearch-moves-*.jsonl"))
    assert len(logs) == 1, result.stderr
    entries = [json.loads(line) for line in logs[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    moved = [e["from"] for e in entries if "from" in e and "to" in e]  # a log may open with a header line
    try:
        assert moved, "no copy was moved"
        revisions = {m["path"] for g in indexed.groups if g["tier"] == "revision" for m in g["items"]}
        assert not revisions & set(moved), shown(revisions & set(moved))
        assert str(indexed.root / "set" / "manual" / "manual-pages-1-2.pdf") not in moved
        kept = {n for k, n in truth.pages.items() if k.split("#page=")[0] not in moved}
        lost = [k for k, n in truth.pages.items() if n not in kept]
        assert not lost, f"pages no longer anywhere in the folder: {shown(lost)}"
    finally:
        undone = cli.json("duplicates", "--undo", str(logs[0]))
    assert undone["restored"] == len(moved) and undone["problems"] == []
    assert all(Path(p).is_file() for p in moved)
