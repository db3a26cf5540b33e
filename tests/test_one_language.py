"""One query language: the CLI, the HTTP API and the MCP server read a search line with the same
parser and rank it the same way; answers say how the line was read, page on with an offset, and
say why they are empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.server import create_app
from tests.conftest import Cli
from tests.helpers import exif_jpeg
from tools.samples import text_pdf

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Path, TestClient]:
    root = tmp_path_factory.mktemp("language")
    generate_folder(root / "shapes", per_class=4, seed=3)
    text_pdf(root / "shapes" / "spec.pdf", ["Bracket specification ZX-9 steel"])
    exif_jpeg(root / "dated" / "old.jpg", "2019:05:01 10:00:00", (200, 40, 40))
    exif_jpeg(root / "dated" / "new.jpg", "2023:07:10 12:30:00", (40, 40, 200))
    cli = Cli(root / "home")
    cli("index", str(root), "--model", "tiny-shapes")
    cli("category", "add", "star", "--prompt", "a star", "--facet", "shape")
    cli("category", "add", "circle", "--prompt", "a circle", "--facet", "shape")
    client = TestClient(create_app(IndexLocation(cli.home, "default")), base_url=LOCAL)
    return cli, root, client


def _ids(results: list[dict]) -> list[int]:
    return [r["id"] for r in results]


def test_the_cli_and_the_api_rank_a_line_alike(library):
    cli, root, client = library
    lines = ["a red circle", "a red shape -star", "a blue shape -category:circle", 'text:"ZX-9"',
             "a shape after:2020 before:2024", f"a shape under:{root / 'dated'}", "a green shape type:png",
             "a circle category:circle"]  # fmt: skip
    for line in lines:
        from_cli = cli.json("search", line, "-k", "8")
        answer = client.get("/api/search", params={"q": line, "k": 8})
        assert answer.status_code == 200, (line, answer.text)
        assert _ids(from_cli) == _ids(answer.json()["results"]), line
        assert from_cli, line
    # "-star" names a category here: no star comes back, from either
    shown = cli.json("search", "a red shape -star", "-k", "20")
    assert shown and not any("star" in Path(r["path"]).name for r in shown)
    read = client.get("/api/search", params={"q": "a red shape -blue after:2020"}).json()["read_as"]
    assert read == {"query": "a red shape", "text": None, "subtract": ["blue"], "filters": {"after": "2020"}}


def test_the_cli_says_how_it_read_a_line_and_why_nothing_came(library):
    cli, _, _ = library
    said = cli("search", "a red shape -blue after:2020")
    assert "read as:" in said.stderr and "minus blue" in said.stderr and "after: 2020" in said.stderr
    plain = cli("search", "a red shape")
    assert "read as" not in plain.stderr
    nothing = cli("search", 'text:"QQZ-404"')
    assert nothing.stdout == "" and "QQZ-404" in nothing.stderr and "text was read from" in nothing.stderr
    filtered = cli("search", "a red shape after:2090")
    assert "no item passes the filters" in filtered.stderr and "after: 2090" in filtered.stderr


def test_pages_follow_one_another_to_the_end(library):
    _, _, client = library
    whole = client.get("/api/search", params={"q": "a shape", "k": 500}).json()
    assert whole["next_offset"] is None and len(whole["results"]) > 12
    paged, offset = [], 0
    while offset is not None:
        page = client.get("/api/search", params={"q": "a shape", "k": 7, "offset": offset}).json()
        assert page["offset"] == offset
        paged += page["results"]
        offset = page["next_offset"]
    assert _ids(paged) == _ids(whole["results"])
    item = whole["results"][0]["id"]
    first = client.get(f"/api/items/{item}/similar", params={"k": 5}).json()
    second = client.get(f"/api/items/{item}/similar", params={"k": 5, "offset": first["next_offset"]}).json()
    both = client.get(f"/api/items/{item}/similar", params={"k": 10}).json()
    assert _ids(first["results"] + second["results"]) == _ids(both["results"])
    browsed = client.get("/api/search", params={"q": "", "sort": "date", "k": 500}).json()["results"]
    taken = [r["taken"] for r in browsed]  # nothing asked, newest first: the library browsed, all of it
    assert taken == sorted(taken, reverse=True) and len(browsed) == client.get("/api/status").json()["items"]
    assert [Path(r["path"]).name for r in browsed][-2:] == ["new.jpg", "old.jpg"]


def test_an_empty_answer_says_why(library):
    _, _, client = library
    words = client.get("/api/search", params={"q": 'text:"QQZ-404"'}).json()
    assert words["results"] == [] and "QQZ-404" in words["empty"]
    dates = client.get("/api/search", params={"q": "a shape before:1990"}).json()
    assert dates["results"] == [] and "no item passes the filters" in dates["empty"]
    found = client.get("/api/search", params={"q": "a shape"}).json()
    assert "empty" not in found


def test_the_viewer_gets_an_items_facts(library):
    _, _, client = library
    hit = client.get("/api/search", params={"q": "a shape after:2023 before:2024"}).json()["results"][0]
    facts = client.get(f"/api/items/{hit['id']}").json()
    assert facts["name"] == "new.jpg" and facts["folder"].endswith("dated") and facts["type"] in ("jpg", "jpeg")
    assert facts["taken"].startswith("2023-07-10") and facts["bytes"] > 0
    page = client.get("/api/search", params={"q": 'text:"ZX-9"'}).json()["results"][0]
    shown = client.get(f"/api/items/{page['id']}").json()
    assert "ZX-9" in shown["text"] and shown["text_source"] == "pdf"
    big = client.get(f"/api/items/{page['id']}/view", params={"size": 1100})
    thumb = client.get(f"/api/items/{page['id']}/thumbnail")
    from io import BytesIO

    from PIL import Image

    assert max(Image.open(BytesIO(big.content)).size) == 1200 > max(Image.open(BytesIO(thumb.content)).size)


def test_the_mcp_server_reads_the_line_as_the_others_do(library):
    import asyncio

    from tests.helpers import mcp_session

    cli, _, client = library

    async def ask() -> dict:
        async with mcp_session(cli.home) as session:
            found = await session.call_tool("search", {"query": "a red shape -star after:2000", "k": 8})
        return json.loads(found.content[0].text)

    answer = asyncio.run(ask())
    api = client.get("/api/search", params={"q": "a red shape -star after:2000", "k": 8}).json()
    assert _ids(answer["results"]) == _ids(api["results"]) and answer["read_as"] == api["read_as"]
