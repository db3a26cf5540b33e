"""Filters are declared once (``Filters`` in query/filters.py): the command line's options, the
search line's keys, the HTTP parameters and the MCP tool's arguments are made from that
declaration, so a front end that lacks a filter fails here."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.query.filters import Filters
from clipsearch.query.syntax import KEYS, parse

DECLARED = Filters.fields()


def test_the_declaration_names_every_field_of_filters():
    import dataclasses

    assert [f.name for f in DECLARED] == [f.name for f in dataclasses.fields(Filters)]
    assert len({f.key for f in DECLARED}) == len(DECLARED)


@pytest.mark.parametrize("command", ["search", "similar", "duplicates"])
def test_every_filter_is_an_option_of_the_commands_that_filter(command):
    from clipsearch.cli import cli

    flags = {o for p in cli.commands[command].params for o in p.opts}
    assert {f.flag for f in DECLARED} <= flags, command


def test_every_filter_meant_for_the_line_is_a_key_of_it():
    for spec in DECLARED:
        if not spec.in_line:
            continue
        assert spec.key in KEYS
        value = "2021" if spec.key in ("after", "before") else "/x" if spec.key == "under" else "pdf"
        parsed = parse(f"a shape {spec.key}:{value}", frozenset())
        got = getattr(parsed.filters, spec.name)
        assert got == ((value,) if spec.many else value), spec.key
    assert parse("a shape -category:red", frozenset()).filters.exclude == ("red",)


def test_every_filter_is_a_parameter_of_the_http_api_and_the_mcp_tool(cli, tmp_path):
    from clipsearch.mcp.server import create_server
    from clipsearch.server import create_app

    generate_folder(tmp_path / "shapes", per_class=1)
    cli("index", str(tmp_path / "shapes"), "--model", "tiny-shapes")
    location = IndexLocation(cli.home, "default")
    schema = TestClient(create_app(location), base_url="http://127.0.0.1").get("/openapi.json").json()
    keys = {f.key for f in DECLARED}
    for route in ("/api/search", "/api/items/{item_id}/similar", "/api/similar"):
        method = "post" if route == "/api/similar" else "get"
        named = {p["name"] for p in schema["paths"][route][method]["parameters"]}
        assert keys <= named, (route, keys - named)
    tools = asyncio.run(create_server(location).list_tools())
    search = next(t for t in tools if t.name == "search")
    assert keys <= set(search.input_schema["properties"]), keys - set(search.input_schema["properties"])
