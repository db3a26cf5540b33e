"""`clipsearch mcp`: an index offered to an AI assistant, tested with the official SDK's own client
over a real stdio connection to a real `clipsearch mcp` process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.helpers import mcp_session


def test_an_assistant_lists_the_tools_and_searches(cli, tmp_path):
    from clipsearch.models.demo_shapes import generate_folder

    generate_folder(tmp_path / "shapes", per_class=2)
    cli("index", str(tmp_path / "shapes"), "--model", "tiny-shapes")

    async def talk() -> tuple[set[str], list, set[str], object]:
        async with mcp_session(cli.home) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool("search", {"query": "a blue star", "k": 3})
            missing = await client.call_tool("similar", {"path": "/no/such/picture.png"})
        async with mcp_session(cli.home, "--allow-index", str(tmp_path / "shapes")) as client:
            writable = {t.name for t in (await client.list_tools()).tools}
            relative = await client.call_tool("index", {"paths": ["shapes"]})  # relative to what?
            negative = await client.call_tool("duplicates", {"limit": -1})
        assert relative.is_error and "absolute" in relative.content[0].text
        assert negative.is_error and "limit" in negative.content[0].text
        return tools, found, writable, missing

    tools, found, writable, missing = asyncio.run(talk())
    assert tools == {"search", "similar", "status", "duplicates", "library_map"}  # read-only unless --allow-index
    assert writable == tools | {"index"}
    assert not found.is_error
    results = json.loads(found.content[0].text)["results"]
    assert len(results) == 3 and all(Path(r["path"]).is_file() for r in results)
    assert sum("blue" in Path(r["path"]).name for r in results) >= 2
    images = [c for c in found.content[1:] if c.type == "image"]
    assert len(images) == 3 and all(c.mime_type == "image/webp" and c.data for c in images)
    assert missing.is_error and "not in the index" in missing.content[0].text


def test_similar_reaches_indexed_items_and_uploads_never_a_path_on_the_server(cli, tmp_path):
    """A client names a picture by the results (id or path) or sends it; a picture elsewhere on the
    server's disk is never opened, whether it exists or not (no oracle), and uploads are capped."""
    import base64

    from clipsearch.models.demo_shapes import generate_folder

    generate_folder(tmp_path / "shapes", per_class=2)
    generate_folder(tmp_path / "outside", per_class=1)
    cli("index", str(tmp_path / "shapes"), "--model", "tiny-shapes")
    outside = next((tmp_path / "outside").rglob("*blue*star*"))
    indexed = next((tmp_path / "shapes").rglob("*red*circle*"))

    async def talk() -> dict[str, object]:
        out = {}
        async with mcp_session(cli.home) as client:
            first = json.loads((await client.call_tool("search", {"query": "a red circle", "k": 1})).content[0].text)[
                "results"
            ][0]
            out["by_id"] = await client.call_tool("similar", {"item": first["id"], "k": 3})
            out["first"] = first["path"]
            out["by_path"] = await client.call_tool("similar", {"path": str(indexed), "k": 3})
            out["outside"] = await client.call_tool("similar", {"path": str(outside)})
            out["absent"] = await client.call_tool("similar", {"path": str(tmp_path / "none.png")})
            data = base64.b64encode(outside.read_bytes()).decode()
            out["upload"] = await client.call_tool("similar", {"image": data, "k": 3})
            out["two"] = await client.call_tool("similar", {"item": first["id"], "image": data})
            out["junk"] = await client.call_tool("similar", {"image": "not base64!"})
        async with mcp_session(cli.home, "--allow-index", str(tmp_path / "shapes")) as client:
            out["etc"] = await client.call_tool("index", {"paths": ["/etc"]})
            out["home"] = await client.call_tool("index", {"paths": [str(cli.home)]})
            out["inside"] = await client.call_tool("index", {"paths": [str(tmp_path / "shapes")]})
        return out

    out = asyncio.run(talk())

    def paths(result: object) -> list[str]:
        assert not result.is_error, result.content[0].text
        return [r["path"] for r in json.loads(result.content[0].text)]

    assert "red_circle" in Path(paths(out["by_id"])[0]).name and out["first"] not in paths(out["by_id"])
    assert str(indexed) not in paths(out["by_path"])  # itself left out
    assert "red_circle" in Path(paths(out["by_path"])[0]).name
    # outside the library, existing or not: the same refusal, nothing decoded
    assert out["outside"].is_error and out["absent"].is_error
    assert out["outside"].content[0].text.replace(str(outside), "X") == out["absent"].content[0].text.replace(
        str(tmp_path / "none.png"), "X"
    )
    assert "blue" in Path(paths(out["upload"])[0]).name and "star" in Path(paths(out["upload"])[0]).name
    assert out["two"].is_error and "exactly one" in out["two"].content[0].text
    assert out["junk"].is_error and "base64" in out["junk"].content[0].text
    assert out["etc"].is_error and "not under a folder" in out["etc"].content[0].text
    assert out["home"].is_error
    assert not out["inside"].is_error
