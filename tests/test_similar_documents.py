"""Documents, not pages: ``similar FILE.pdf`` and ``search --documents`` list each PDF once, with
its best page, its score and how many of its pages match; through the CLI, ``Index``, the HTTP API.

The library is made of PDFs whose pages are pictures of shapes (the tiny-shapes model tells colours
and shapes apart): ``query.pdf`` (three red shapes), ``red_copy.pdf`` (the same three pages,
reordered), ``mixed.pdf`` (blue, one of the query's pages, blue), ``red.pdf`` and ``blue.pdf`` (the
same three other shapes, drawn alike but for the colour), and two single pictures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import draw
from tests.conftest import Cli

LOCAL = "http://127.0.0.1"


def _drawn(colour: str, shapes: list[str], seed: int) -> list:
    rng = np.random.default_rng(seed)  # the same seed draws the same geometry in another colour
    return [draw(colour, shape, rng) for shape in shapes]


def _pdf(path: Path, pages: list) -> Path:
    pages = [page.copy() for page in pages]  # Pillow keeps a saved picture's append_images on it
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("documents")
    lib = root / "lib"
    (lib / "pictures").mkdir(parents=True)
    q1, q2, q3 = _drawn("red", ["circle", "square", "triangle"], seed=1)
    b1, b2 = _drawn("blue", ["cross", "star"], seed=4)
    _pdf(lib / "query.pdf", [q1, q2, q3])
    _pdf(lib / "red_copy.pdf", [q2, q3, q1])
    _pdf(lib / "mixed.pdf", [b1, q2, b2])
    _pdf(lib / "red.pdf", _drawn("red", ["star", "cross", "circle"], seed=2))
    _pdf(lib / "blue.pdf", _drawn("blue", ["star", "cross", "circle"], seed=2))
    _drawn("red", ["star"], seed=3)[0].save(lib / "pictures" / "red_star.png")
    _drawn("blue", ["square"], seed=3)[0].save(lib / "pictures" / "blue_square.png")
    cli = Cli(root / "home")
    # fp32, as queries embed: a page indexed and the same page embedded at query time agree
    report = cli.json("index", str(lib), "--model", "tiny-shapes", "--precision", "fp32")
    assert report["items"] == 5 * 3 + 2
    for colour in ("red", "blue"):
        cli.json("category", "add", colour, "--facet", "colour", "--prompt", f"something {colour}")
    return cli, lib


def _names(results: list[dict]) -> list[str]:
    return [Path(r["path"]).name for r in results]


def _by_name(results: list[dict]) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in results}


def test_similar_pdf_lists_each_document_once_ranked_with_its_pages(library):
    cli, lib = library
    found = cli.json("similar", str(lib / "query.pdf"), "-k", "10")
    names = _names(found)
    assert len(names) == len(set(names)) == 6  # every other file once: 4 PDFs, 2 pictures
    assert "query.pdf" not in names  # the queried file itself is left out
    assert set(names[:2]) == {"red_copy.pdf", "mixed.pdf"}  # each holds a page of the query's, the same
    assert min(found[0]["score"], found[1]["score"]) > 0.999 > found[2]["score"]
    assert names.index("red.pdf") < names.index("blue.pdf")  # red shapes come before the same shapes in blue
    assert all("#page=" not in r["path"] and "page" not in r for r in found)
    docs = _by_name(found)
    assert docs["mixed.pdf"]["best_page"] == 2 and docs["mixed.pdf"]["pages"] == 3  # its one red page
    assert docs["red_copy.pdf"]["pages_matched"] == 3  # every page is one of the query's
    assert (docs["red_star.png"]["best_page"], docs["red_star.png"]["pages"]) == (0, 1)
    assert all(1 <= r["pages_matched"] <= r["pages"] for r in found)
    assert sorted(r["score"] for r in found) == [r["score"] for r in reversed(found)]

    strict = _by_name(cli.json("similar", str(lib / "query.pdf"), "--min-score", "0.999"))
    assert (strict["red_copy.pdf"]["pages_matched"], strict["red_copy.pdf"]["pages"]) == (3, 3)
    assert (strict["mixed.pdf"]["pages_matched"], strict["mixed.pdf"]["best_page"]) == (1, 2)
    assert "blue.pdf" not in strict
    # the bar: the last document's score (red.pdf's circle, 0.98, here), else --min-score
    top3 = _by_name(cli.json("similar", str(lib / "query.pdf"), "-k", "3"))
    assert _names(list(top3.values()))[2] == "red.pdf" and top3["red.pdf"]["pages_matched"] < 3
    low = _by_name(cli.json("similar", str(lib / "query.pdf"), "-k", "3", "--min-score", "0.5"))
    assert low["red.pdf"]["pages_matched"] == 3  # its star and cross too are red shapes

    table = cli("similar", str(lib / "query.pdf")).stdout
    row = next(line for line in table.splitlines() if "red_copy.pdf" in line)
    assert "3/3 pages" in row and "#page=" not in row
    assert "best page 2" in next(line for line in table.splitlines() if "mixed.pdf" in line)


def test_a_page_keeps_the_page_behaviour(library):
    cli, lib = library
    for args in (["--page", "2"], []):
        spec = str(lib / "query.pdf") + ("" if args else "#page=2")
        pages = cli.json("similar", spec, *args, "-k", "4")
        assert [(Path(r["path"]).name, r["page"]) for r in pages[:2]] == [("red_copy.pdf", 1), ("mixed.pdf", 2)]
        assert "best_page" not in pages[0]
    by_page = cli.json("similar", str(lib / "query.pdf"), "--page", "2", "--documents", "-k", "10")
    assert len(_names(by_page)) == len(set(_names(by_page))) and "query.pdf" not in _names(by_page)


def test_search_documents_lists_each_pdf_once(library):
    cli, _ = library
    pages = cli.json("search", "a red circle", "-k", "12")
    assert len(set(_names(pages))) < len(pages)  # pages: some files more than once
    docs = cli.json("search", "a red circle", "--documents", "-k", "12")
    names = _names(docs)
    assert len(names) == len(set(names)) == 7  # every file once, the query file too: it is a search
    assert names.index("red.pdf") < names.index("blue.pdf")
    for r in docs:
        hits = [p for p in pages if p["path"] == r["path"]]
        if hits:  # its best page is its best page hit
            assert (r["best_page"], r["score"]) == (hits[0].get("page", 0), hits[0]["score"])
    assert all(1 <= r["pages_matched"] <= r["pages"] for r in docs)
    assert _by_name(docs)["query.pdf"]["pages"] == 3
    table = cli("search", "a red circle", "--documents").stdout
    assert "/3 pages" in table


def test_filters_decide_which_pages_count(library):
    cli, lib = library
    blue = _by_name(cli.json("similar", str(lib / "query.pdf"), "--category", "blue", "-k", "10"))
    assert "red_copy.pdf" not in blue and "red.pdf" not in blue  # no blue page
    assert blue["mixed.pdf"]["best_page"] in (1, 3)  # its red page does not count
    assert blue["mixed.pdf"]["pages_matched"] <= 2 and blue["mixed.pdf"]["pages"] == 3
    assert set(blue) <= {"mixed.pdf", "blue.pdf", "blue_square.png"}
    under = cli.json("similar", str(lib / "query.pdf"), "--under", str(lib / "pictures"))
    assert sorted(_names(under)) == ["blue_square.png", "red_star.png"]
    found = cli.json("search", "a red circle", "--documents", "--type", "png")
    assert sorted(_names(found)) == ["blue_square.png", "red_star.png"]


def test_index_and_http_api_give_the_same_documents(library, tmp_path):
    from fastapi.testclient import TestClient

    from clipsearch import Index
    from clipsearch.server import create_app

    cli, lib = library
    query = lib / "query.pdf"
    outside = shutil.copy2(query, tmp_path / "submitted.pdf")  # not indexed: rendered and embedded now

    def key(results: list) -> list[tuple]:
        rows = [r if isinstance(r, dict) else r.to_dict() for r in results]
        return [(r["path"], r["best_page"], r["pages_matched"], r["pages"], round(r["score"], 5)) for r in rows]

    with Index.open(home=cli.home) as ix:
        searched = ix.search("a red circle", k=5, documents=True)
        alike = ix.similar(str(query), k=10)
        fresh = ix.similar(str(outside), k=10)
        item = next(r.id for r in ix.search("a red circle", k=20) if r.path == str(query))
    assert key(alike) == key(cli.json("similar", str(query), "-k", "10"))
    same = {Path(r[0]).name: r for r in key(fresh) if r[4] > 0.999}  # holding a page of the query's
    assert set(same) == {"query.pdf", "red_copy.pdf", "mixed.pdf"}  # nothing left out: it is not indexed
    assert same["query.pdf"][2:4] == (3, 3)
    client = TestClient(create_app(IndexLocation(cli.home, "default")), base_url=LOCAL)
    api = client.get("/api/search", params={"q": "a red circle", "k": 5, "documents": "true"}).json()["results"]
    assert key(api) == key(searched) and len({r["path"] for r in api}) == 5
    by_item = client.get(f"/api/items/{item}/similar", params={"k": 10, "documents": "true"}).json()["results"]
    assert key(by_item) == key(alike)
    uploaded = client.post("/api/similar", params={"k": 10, "documents": "true"}, content=query.read_bytes())
    assert uploaded.status_code == 200 and key(uploaded.json()["results"]) == key(fresh)
    one_page = client.post("/api/similar", params={"k": 3, "page": 2}, content=query.read_bytes()).json()["results"]
    assert "page" in one_page[0] and "best_page" not in one_page[0]  # without documents: pages, as before
