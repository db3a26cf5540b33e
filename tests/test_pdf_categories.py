"""PDF pages as items, and zero-/few-shot categories with filters inside the vector search."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from clipsearch.models.demo_shapes import COLOURS, generate_folder

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def documents(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    shutil.copytree(CORPUS / "documents", root / "documents")
    shutil.copytree(CORPUS / "drawings", root / "drawings")
    return root


def test_pdf_pages_are_items_and_bad_pdfs_are_skipped(cli, tiny_model, documents):
    (documents / "garbage.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    import pypdfium2 as pdfium

    empty = pdfium.PdfDocument.new()
    empty.save(str(documents / "empty.pdf"))
    empty.close()
    report = cli.json("index", str(documents), *tiny_model.args)
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert reasons["libreoffice-writer-password.pdf"] == "encrypted PDF (password protected)"
    assert reasons["garbage.pdf"].startswith("cannot read PDF")
    # pdfium's error code for a zero-page file is whatever its previous call left: only "unreadable" is stable
    assert reasons["empty.pdf"].startswith("cannot read PDF")
    results = cli.json("search", "a page", "-k", "100")
    pages = Counter(Path(r["path"]).name for r in results if "page" in r)
    assert pages["pdflatex-4-pages.pdf"] == 4
    assert pages["multicolumn.pdf"] == 3
    assert pages["Aufspannung.PDF"] == 1 and pages["cmyk-image.pdf"] == 1
    assert sorted(r["page"] for r in results if r["path"].endswith("pdflatex-4-pages.pdf")) == [1, 2, 3, 4]
    images = [r for r in results if r["path"].endswith(".jpg")]
    assert images and all("page" not in r for r in images)  # JSON adds "page" for PDF pages only
    table = cli("search", "a page", "-k", "100").stdout
    assert "pdflatex-4-pages.pdf#page=3" in table


def test_max_pages_bounds_long_pdfs(cli, tiny_model, documents):
    cli.json("index", str(documents / "documents"), *tiny_model.args, "--max-pages", "2")
    results = cli.json("search", "a page", "-k", "100")
    assert sorted(r["page"] for r in results if r["path"].endswith("pdflatex-4-pages.pdf")) == [1, 2]


def test_page_query_finds_the_same_page_in_a_copied_pdf(cli, documents, tmp_path):
    source = documents / "documents" / "pdflatex-4-pages.pdf"
    # fp32, as queries embed: pages 2 and 3 differ by less than an int8 index's rounding, and which
    # precision the planner picks depends on this CPU's timings
    cli.json("index", str(documents), "--model", "tiny-shapes", "--precision", "fp32")
    outside = tmp_path / "submitted.pdf"  # not indexed: the page is rendered and embedded at query time
    shutil.copy2(source, outside)
    top = cli.json("similar", str(outside), "--page", "3", "-k", "3")
    assert (top[0]["path"], top[0]["page"]) == (str(source), 3)
    assert top[0]["score"] > 0.9999 and top[1]["score"] < top[0]["score"]
    own = cli.json("similar", str(source), "--page", "3", "-k", "40")
    assert (str(source), 3) not in {(r["path"], r.get("page")) for r in own}  # itself left out
    assert (str(source), 2) in {(r["path"], r.get("page")) for r in own}  # its other pages are not
    bad = cli("similar", str(source), "--page", "9", ok=False)
    assert bad.exit_code == 2 and "no page 9" in bad.stderr


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    folder = tmp_path / "shapes"
    generate_folder(folder, per_class=2, seed=21)
    return folder


def _colour(path: str) -> str:
    return Path(path).stem.split("_")[0]


def _define_colours(cli) -> None:
    for c in COLOURS:
        cli.json("category", "add", c, "--facet", "colour", "--prompt", f"something {c}")


def test_category_labels_and_filtered_search(cli, shapes):
    cli.json("index", str(shapes), "--model", "tiny-shapes")
    _define_colours(cli)
    everything = cli.json("search", "a shape", "-k", "100")
    assert len(everything) == 60
    accuracy = sum(r["categories"]["colour"] == _colour(r["path"]) for r in everything) / len(everything)
    assert accuracy >= 0.95
    listing = {f["name"]: f for f in cli.json("category", "list")}
    assert listing["colour"]["method"] == "zero-shot"
    assert sum(c["items"] for c in listing["colour"]["categories"]) == 60

    blue = cli.json("search", "a star", "--category", "blue", "-k", "50")
    assert len(blue) == sum(r["categories"]["colour"] == "blue" for r in everything)  # all of them, not fewer
    assert {r["categories"]["colour"] for r in blue} == {"blue"}
    not_red = cli.json("search", "a red circle", "--not-category", "red", "-k", "50")
    assert "red" not in {r["categories"]["colour"] for r in not_red} and len(not_red) >= 45
    two = cli.json("similar", str(next(shapes.glob("green_square_00.*"))), "--category", "green", "--category", "blue")
    assert {r["categories"]["colour"] for r in two} <= {"green", "blue"}


def test_items_indexed_later_are_labelled_and_removal_relabels(cli, shapes, tmp_path):
    cli.json("index", str(shapes), "--model", "tiny-shapes")
    _define_colours(cli)
    more = tmp_path / "more"
    generate_folder(more, per_class=1, seed=99)
    cli.json("index", str(more))
    new = [r for r in cli.json("search", "a shape", "-k", "200") if r["path"].startswith(str(more))]
    assert len(new) == 30 and all("colour" in r["categories"] for r in new)
    cli.json("category", "remove", "purple")
    after = cli.json("search", "a shape", "-k", "200")
    assert "purple" not in {r["categories"].get("colour") for r in after}
    missing = cli("search", "x", "--category", "purple", ok=False)
    assert missing.exit_code == 2 and "no category named 'purple'" in missing.stderr


def test_few_shot_probe_beats_weak_prompts(cli, shapes, tmp_path):
    """'warm' vs 'cool' described only as red vs blue: examples teach orange/yellow and green/purple."""
    warm, cool = {"red", "orange", "yellow"}, {"green", "blue", "purple"}
    examples = tmp_path / "examples"
    made = generate_folder(examples, per_class=1, seed=5)
    cli.json("index", str(shapes), "--model", "tiny-shapes")
    for facet, with_examples in (("zero-shot", False), ("few-shot", True)):
        for name, prompt, colours in (("warm", "something red", warm), ("cool", "something blue", cool)):
            ex = [a for m in made if m.colour in colours for a in ("--example", str(m.path))] if with_examples else []
            cli.json("category", "add", f"{name}-{facet}", "--facet", facet, "--prompt", prompt, *ex)
    results = cli.json("search", "a shape", "-k", "100")

    def accuracy(facet: str) -> float:
        truth = {r["path"]: "warm" if _colour(r["path"]) in warm else "cool" for r in results}
        return sum(r["categories"][facet].startswith(truth[r["path"]]) for r in results) / len(results)

    listing = {f["name"]: f for f in cli.json("category", "list")}
    assert listing["few-shot"]["method"] == "probe"
    assert listing["few-shot"]["probe_accuracy"] > listing["few-shot"]["zero_shot_accuracy"]
    assert accuracy("few-shot") >= accuracy("zero-shot")
    assert accuracy("few-shot") >= 0.9
    shown = cli.json("category", "show", "warm-few-shot")
    assert shown["method"] == "probe" and shown["examples"] == 15


def _title_block_variant(source: Path, target: Path) -> None:
    """Same sheet and title block, a different part drawn: the drawing area is blanked and redrawn."""
    from PIL import Image, ImageDraw

    image = Image.open(source).convert("RGB")
    w, h = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle([int(0.06 * w), int(0.05 * h), int(0.94 * w), int(0.68 * h)], fill="white")
    draw.ellipse([int(0.3 * w), int(0.15 * h), int(0.7 * w), int(0.6 * h)], outline="black", width=max(2, w // 300))
    image.save(target)


@pytest.mark.parametrize("model", ["tiny-shapes", "random"])
def test_title_block_region_finds_the_same_title_block(cli, tiny_model, documents, model):
    drawings = documents / "drawings"
    _title_block_variant(drawings / "halter.jpg", drawings / "halter-variant.png")
    args = ["--model", "tiny-shapes"] if model == "tiny-shapes" else tiny_model.args
    report = cli.json("index", str(drawings), *args, "--region", "title-block", "--region-scope", "all")
    assert report["items"] == 11  # 7 raster drawings + 3 PDF pages + the variant
    query = str(drawings / "halter.jpg")
    by_region = cli.json("similar", query, "--region", "title-block", "-k", "10")
    assert by_region[0]["path"] == str(drawings / "halter-variant.png")
    assert by_region[0]["score"] > by_region[1]["score"]
    assert len(by_region) == 10  # every other drawing has a region vector and is ranked below
    _title_block_variant(drawings / "halter.jpg", drawings / "halter-variant-2.jpg")  # added later
    later = cli.json("index", str(drawings))  # no --region: the index remembers to keep regions current
    assert (later["added"], later["unchanged"], later["embedded"]) == (1, 11, 1)
    again = cli.json("similar", query, "--region", "title-block", "-k", "2")
    assert {Path(r["path"]).name for r in again} == {"halter-variant.png", "halter-variant-2.jpg"}


def test_regions_default_to_pages_classified_as_drawings(cli, documents):
    cli.json("index", str(documents / "drawings"), "--model", "tiny-shapes", "--region", "title-block")
    cli.json("category", "list")  # the built-in doctype facet exists; a toy model labels few pages as drawings
    from clipsearch import Index
    from clipsearch.query.categories import DRAWING, Categories

    with Index.open(home=cli.home) as ix:
        store = ix.store
        drawings = set(Categories(store).ids_in([DRAWING]).tolist())
        ids, _ = store.catalog.region_vectors("title-block", store.model.dim)
    assert set(ids.tolist()) == drawings
