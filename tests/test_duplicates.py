"""Near-duplicate finding through the CLI on real pictures and edited copies of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from clipsearch.query.dupeval import EDITS, build_set, pairwise

CORPUS = Path(__file__).parent / "corpus"
# photos, and several technical drawings (white paper, thin lines) that must never be merged
NAMES = ["chelsea", "coffee", "rocket", "page", "Gripper", "halter", "BM_part", "Aufspannung", "Elevator_bottom"]


@pytest.fixture(scope="module")
def dup_set(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("dups")
    truth = build_set(CORPUS, root / "set", NAMES)
    return root / "set", truth


def _index(cli, folder: Path) -> None:
    cli.json("index", str(folder), "--model", "tiny-shapes")


def test_exact_and_perceptual_tiers_meet_the_quality_bar(cli, dup_set):
    folder, truth = dup_set
    _index(cli, folder)
    groups = cli.json("duplicates", "--by", "exact", "--by", "perceptual")
    scores = pairwise([[m["path"] for m in g["items"]] for g in groups], truth)
    print("duplicates pairwise scores:", json.dumps(scores))
    assert scores["precision"] >= 0.98
    assert scores["recall"] >= 0.90
    # distinct drawings are never grouped together
    for g in groups:
        assert len({truth[m["path"]] for m in g["items"]}) == 1, g


def test_group_shape_keeper_and_evidence(cli, dup_set):
    folder, _ = dup_set
    _index(cli, folder)
    groups = cli.json("duplicates")  # tiny-shapes is a toy model: semantic tier does not apply by default
    assert groups and {g["tier"] for g in groups} <= {"exact", "perceptual"}
    g = next(g for g in groups if Path(g["items"][0]["path"]).parent.name == "chelsea")
    keeper = [m for m in g["items"] if m["keeper"]]
    assert len(keeper) == 1 and keeper[0]["path"] == g["keeper"]
    biggest = max(m["width"] * m["height"] for m in g["items"])
    assert keeper[0]["width"] * keeper[0]["height"] == biggest  # largest pixel count is kept
    for m in g["items"]:
        assert m["tier"] in {"centre", "exact", "perceptual"}
        if m["tier"] == "perceptual":
            assert 0 <= m["distance"] <= 24
    # the exact tier alone pairs each original with its byte-identical copy, at distance 0
    exact = cli.json("duplicates", "--by", "exact")
    assert len(exact) == len(NAMES)
    for group in exact:
        assert sorted(Path(m["path"]).stem for m in group["items"]) == ["copy", "original"]
        assert group["tier"] == "exact" and all(m["distance"] in (None, 0.0) for m in group["items"])


def test_csv_html_and_dismiss(cli, dup_set, tmp_path):
    folder, _ = dup_set
    _index(cli, folder)
    out_csv, out_html = tmp_path / "d.csv", tmp_path / "d.html"
    groups = cli.json("duplicates", "--csv", str(out_csv), "--html", str(out_html))
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == sum(len(g["items"]) for g in groups)
    assert "<img" in out_html.read_text(encoding="utf-8") and groups[0]["group"] in out_html.read_text(encoding="utf-8")

    key = groups[0]["group"]
    cli("duplicates", "--dismiss", key)
    after = cli.json("duplicates")
    assert key not in {g["group"] for g in after}
    assert len(after) == len(groups) - 1
    assert cli("duplicates", "--dismiss", "nope", ok=False).exit_code == 2


def test_move_to_and_undo(cli, tmp_path):
    folder = tmp_path / "small"
    truth = build_set(CORPUS, folder, ["coffee", "halter"])
    _index(cli, folder)
    groups = cli.json("duplicates", "--by", "exact", "--by", "perceptual")
    keepers = {g["keeper"] for g in groups}
    dest = tmp_path / "dupes"
    result = cli("duplicates", "--by", "exact", "--by", "perceptual", "--move-to", str(dest), "--yes")
    log = result.stderr.split("--undo ")[1].strip()
    moved = [m for m in map(json.loads, Path(log).read_text().splitlines()) if "from" in m]  # after the header
    assert moved and all(Path(m["to"]).is_file() and not Path(m["from"]).exists() for m in moved)
    assert all(Path(m["to"]) == dest / Path(m["from"]).relative_to(folder) for m in moved)  # folders kept
    assert all(Path(k).exists() for k in keepers)  # keepers never move
    assert cli.json("duplicates") == []  # the catalog followed the files
    assert cli.json("status")["items"] == len(truth) - len(moved)

    undone = cli.json("duplicates", "--undo", log)
    assert undone["restored"] == len(moved) and undone["problems"] == []
    assert all(Path(m["from"]).is_file() for m in moved)
    assert cli.json("status")["items"] == len(truth)  # restored files come back into the index
    assert cli.json("index", str(folder))["added"] == 0  # nothing left for the next run to find
    assert len(cli.json("duplicates", "--by", "exact", "--by", "perceptual")) == len(groups)


def test_eval_set_has_every_edit(dup_set):
    _, truth = dup_set
    stems = {Path(p).stem for p in truth}
    assert set(EDITS) | {"original"} == stems


def test_semantic_tier_on_request(cli, dup_set):
    """Off by default for a toy model; asked for, it groups by CLIP cosine with the similarity as evidence."""
    folder, truth = dup_set
    _index(cli, folder)
    groups = cli.json("duplicates", "--by", "semantic", "--min-similarity", "0.9999")
    assert groups and {g["tier"] for g in groups} == {"semantic"}
    for g in groups:
        assert len({truth[m["path"]] for m in g["items"]}) == 1  # byte copies at least: cosine 1.0
        assert all(m["distance"] >= 0.9999 for m in g["items"] if m["tier"] == "semantic")
    members = [{(Path(m["path"]).parent.name, Path(m["path"]).stem) for m in g["items"]} for g in groups]
    for name in NAMES:  # every byte copy sits in one group with its original
        assert any({(name, "copy"), (name, "original")} <= found for found in members), name


def _code_as_first_defined(image) -> bytes:
    """The perceptual code as catalogs already store it: the image thumbnailed to 512, its uniform
    border cut in RGB by listing every differing pixel, then imagehash's pHash and dHash."""
    import imagehash
    import numpy as np

    small = image.copy()
    small.thumbnail((512, 512))
    grey = np.asarray(small.convert("L"), dtype=np.int16)
    background = int(np.median([grey[0, 0], grey[0, -1], grey[-1, 0], grey[-1, -1]]))
    ys, xs = np.nonzero(np.abs(grey - background) > 12)
    if len(xs) and (xs.max() + 1 - xs.min()) * (ys.max() + 1 - ys.min()) >= 0.05 * grey.size:
        small = small.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    bits = np.concatenate([imagehash.phash(small).hash.ravel(), imagehash.dhash(small).hash.ravel()])
    return np.packbits(bits.astype(np.uint8)).tobytes()


def test_perceptual_codes_stay_those_already_stored(dup_set):
    """The faster code path gives bit-for-bit the codes earlier versions stored, so a catalog's old
    codes and new ones still compare: originals, padded, cropped and recompressed copies. A blank
    now gets no code, and the code earlier versions stored for one is known as flat."""
    from PIL import Image

    from clipsearch.ingest.images import load_image
    from clipsearch.ingest.phash import has_structure, perceptual_code

    folder, _ = dup_set
    images = [load_image(p, 256) for p in sorted(folder.rglob("*")) if p.is_file()]
    images += [load_image(p) for p in sorted((CORPUS / "drawings").glob("*.jpg"))[:2]]  # > 512: thumbnailed
    assert len(images) > 40
    assert [perceptual_code(im) for im in images] == [_code_as_first_defined(im) for im in images]
    blank = Image.new("RGB", (90, 60), (255, 255, 255))  # nothing to trim to
    assert perceptual_code(blank) is None and not has_structure(_code_as_first_defined(blank))


def test_the_demo_library_shows_no_false_group(cli, tmp_path):
    """The demo's library (two pictures of each colour and shape, and the corpus documents): no
    group holds shapes of two colours, two different shapes, or two different pages of a PDF (pages
    2 and 3 of pdflatex-4-pages.pdf repeat one blind text from different places); a real copy is
    still found."""
    import shutil

    from clipsearch.models.demo_shapes import generate_folder

    generate_folder(tmp_path / "lib" / "shapes", per_class=2)
    shutil.copytree(CORPUS / "documents", tmp_path / "lib" / "documents")
    shutil.copy(tmp_path / "lib" / "shapes" / "blue_star_00.png", tmp_path / "lib" / "blue_star_copy.png")
    _index(cli, tmp_path / "lib")
    groups = cli.json("duplicates")
    for g in groups:
        names = {Path(m["path"]).name for m in g["items"]}
        shapes = {n.rsplit("_", 1)[0] for n in names if n.endswith((".png", ".jpg")) and "copy" not in n}
        assert len(shapes) <= 1, names
        pdfs = [Path(m["path"]).name for m in g["items"] if m.get("page")]
        assert len(pdfs) == len(set(pdfs)), g["items"]  # never two pages of one PDF
    assert any({"blue_star_00.png", "blue_star_copy.png"} <= {Path(m["path"]).name for m in g["items"]} for g in groups)
