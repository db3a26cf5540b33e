"""Query commands: ``search`` (text, or an image path) and ``similar`` (an image, a PDF page)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from ..ingest.regions import REGIONS
from .app import cli, index_options, print_results, query_options


@cli.command("search")
@click.argument("query")
@index_options
@query_options
def search_cmd(
    query: str,
    index_name: str | None,
    home: str | None,
    top: int,
    min_score: float | None,
    add: Sequence[str],
    sub: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    device: str | None,
    as_json: bool,
) -> None:
    """Find images matching a description (or an image path), best first."""
    from ..config import IndexLocation
    from ..query.prefetch import prefetch_query

    # start embedding the text (not a picture path) and reading the vectors while the rest loads
    prefetch_query(IndexLocation.resolve(index_name, home).path, [] if os.path.exists(query) else [query], device)
    from .. import api
    from ..query.search import CategoryFilter

    filters = CategoryFilter(tuple(include), tuple(exclude))
    with api.open_index(index_name, home) as store:
        results = api.searcher(store, device=device).search(query, top, min_score, add, sub, filters=filters)
    print_results(results, as_json)


@cli.command("similar")
@click.argument("path", type=click.Path())
@click.option("--page", type=int, default=None, help="Page of a PDF to query by (1-based; default 1).")
@click.option("--region", type=click.Choice(sorted(REGIONS)), default=None, help="Compare only this region.")
@index_options
@query_options
def similar_cmd(
    path: str,
    page: int | None,
    region: str | None,
    index_name: str | None,
    home: str | None,
    top: int,
    min_score: float | None,
    add: Sequence[str],
    sub: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    device: str | None,
    as_json: bool,
) -> None:
    """Find images that look like the image at PATH (which need not be indexed)."""
    from .. import api
    from ..query.search import CategoryFilter

    filters = CategoryFilter(tuple(include), tuple(exclude))
    with api.open_index(index_name, home) as store:
        results = api.searcher(store, device=device).similar(
            path, top, min_score, add, sub, page=page, filters=filters, region=region
        )
    print_results(results, as_json)
