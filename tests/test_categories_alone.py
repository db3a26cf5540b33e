"""A category decides like a classifier, whatever its facet holds: alone it labels what it
describes, not everything; on shapes the model was not trained on (``demo_shapes``) beside the
sample corpus's photos and drawings, with the trained ``tiny-shapes`` model, through the command line.

Precision and recall are counted among the shapes, the only pictures tiny-shapes knows anything
about (it has never seen a photo: "a star" may take a few, see `make eval`, categories); that the
photos and drawings do not all carry a lone category is asserted too."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from clipsearch.models.demo_shapes import generate_folder
from tests.conftest import Cli

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """120 shapes (6 colours x 5 shapes x 4) and the corpus photos and drawings, indexed."""
    root = tmp_path_factory.mktemp("alone")
    generate_folder(root / "shapes", per_class=4, seed=21)
    for part in ("photos", "drawings"):
        shutil.copytree(CORPUS / part, root / "corpus" / part)
    cli = Cli(root / "home")
    cli.json("index", str(root / "shapes"), str(root / "corpus"), "--model", "tiny-shapes", "--ocr", "none")
    return cli, root


def _members(cli: Cli, *names: str, shapes_only: bool = True) -> list[str]:
    args = [a for n in names for a in ("--category", n)]
    found = cli.json("search", *args, "-k", "500")
    return [Path(r["path"]).stem for r in found if not shapes_only or "/shapes/" in r["path"]]


def _precision_recall(found: list[str], describes, wanted: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """``wanted``: 20 of each colour (120 / 6), 24 of each shape (120 / 5)."""
    right = sum(describes(n) for n in found)
    return right / max(len(found), 1), right / wanted


def test_a_lone_category_labels_what_it_describes(library):
    cli, root = library
    added = cli.json("category", "add", "red things", "--facet", "red", "--prompt", "a red shape", "--json")
    found = _members(cli, "red things")
    assert len(_members(cli, "red things", shapes_only=False)) < len(found) + 5  # the photos are not red things
    precision, recall = _precision_recall(found, lambda n: n.startswith("red_"), 20)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall, found)
    assert added["items"] < 40  # not the whole library
    listed = cli("category", "list").stdout
    assert "red things" in listed and "alone" in listed and "warning" not in listed
    # with examples: still what it describes
    examples = sorted(str(p) for p in (root / "shapes").glob("red_*"))[:3]
    cli.json("category", "add", "red things", "--facet", "red", "--prompt", "a red shape",
             *[a for e in examples for a in ("--example", e)], "--json")  # fmt: skip
    precision, recall = _precision_recall(_members(cli, "red things"), lambda n: n.startswith("red_"), 20)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)
    cli("category", "remove", "red things")


def test_two_lone_categories_in_two_facets_and_their_intersection(library):
    cli, _ = library
    cli.json("category", "add", "green things", "--facet", "colour", "--prompt", "a green shape", "--json")
    cli.json("category", "add", "stars", "--facet", "shape", "--prompt", "a star", "--json")
    for name, describes, wanted in (("green things", lambda n: n.startswith("green_"), 20),
                                    ("stars", lambda n: "_star_" in n, 24)):  # fmt: skip
        precision, recall = _precision_recall(_members(cli, name), describes, wanted)
        assert precision >= 0.9 and recall >= 0.8, (name, precision, recall)
        assert len(_members(cli, name, shapes_only=False)) < 60  # of 150: not everything
    both = _members(cli, "green things", "stars")  # facets AND-ed
    assert both and all(n.startswith("green_star") for n in both)
    cli("category", "remove", "green things")
    cli("category", "remove", "stars")


def test_a_facet_of_several_still_competes_and_a_catch_all_is_warned_of(library):
    cli, _ = library
    for colour in ("red", "green", "blue", "yellow", "purple", "orange"):
        cli.json("category", "add", colour, "--facet", "colours", "--prompt", f"a {colour} shape", "--json")
    found = {c: _members(cli, c) for c in ("red", "blue")}
    assert all(len(v) >= 20 for v in found.values())  # every item gets its best colour, as before
    assert sum(n.startswith("red_") for n in found["red"]) == 20
    for colour in ("red", "green", "blue", "yellow", "purple", "orange"):
        cli("category", "remove", colour)
    wide = cli("category", "add", "things", "--facet", "any", "--prompt", "a shape", "--threshold", "0")
    assert re.search(r"warning: .* holds (\d+) of \1 items", wide.stderr)  # a label everything carries is said
    assert "warning" in cli("category", "list").stdout
    cli("category", "remove", "things")


def test_a_name_in_another_facet_is_refused_not_taken(library):
    """`category add photo` in the default facet must not silently move the built-in doctype's
    photo (and relabel every picture of that facet)."""
    cli, _ = library
    before = {f["name"]: [c["name"] for c in f["categories"]] for f in cli.json("category", "list")}
    refused = cli("category", "add", "photo", "--prompt", "a photo of a cat", ok=False)
    assert refused.exit_code == 2 and "facet 'doctype'" in refused.stderr
    after = {f["name"]: [c["name"] for c in f["categories"]] for f in cli.json("category", "list")}
    assert after == before and "photo" in after["doctype"]
