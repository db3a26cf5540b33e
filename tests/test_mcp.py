"""`clipsearch mcp`: an index offered to an AI assistant, tested with the official SDK's own client
over a real stdio connection to a real `clipsearch mcp` process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

EXE = str(Path(sys.executable).parent / "clipsearch")


def _session(home: Path, *args: str):  # type: ignore[no-untyped-def]
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {**os.environ, "CLIPSEARCH_HOME": str(home)}
    return Client(StdioServerParameters(command=EXE, args=["mcp", *args], env=env), read_timeout_seconds=120)


def test_an_assistant_lists_the_tools_and_searches(cli, tmp_path):
    from clipsearch.models.demo_shapes import generate_folder

    generate_folder(tmp_path / "shapes", per_class=2)
    cli("index", str(tmp_path / "shapes"), "--model", "tiny-shapes")

    async def talk() -> tuple[set[str], list, set[str], object]:
        async with _session(cli.home) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool("search", {"query": "a blue star", "k": 3})
            missing = await client.call_tool("similar", {"path": "/no/such/picture.png"})
        async with _session(cli.home, "--allow-index") as client:
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
    results = json.loads(found.content[0].text)
    assert len(results) == 3 and all(Path(r["path"]).is_file() for r in results)
    assert sum("blue" in Path(r["path"]).name for r in results) >= 2
    images = [c for c in found.content[1:] if c.type == "image"]
    assert len(images) == 3 and all(c.mime_type == "image/webp" and c.data for c in images)
    assert missing.is_error and "no such image file" in missing.content[0].text
