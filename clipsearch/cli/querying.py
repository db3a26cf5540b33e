"""Query commands: ``search`` (text, or an image path) and ``similar`` (an image, a PDF page)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import click

from ..ingest.regions import REGIONS
from .app import cli, filters_from, index_options, print_results, query_options


@cli.command("search")
@click.argument("query", required=False)
@click.option("--text", "words", metavar="WORDS", help="Words in the picture or page (OCR, PDF text); "
              "\"quoted phrases\"; codes like KX-2291-B match letter for letter.")  # fmt: skip
@click.option("--relevant", is_flag=True, help="Only results the model itself calls a match.")
@click.option("--sort", type=click.Choice(["score", "date"]), default="score", show_default=True)
@click.option("--lang", default=None, metavar="CODE", help="The query's language (ru, zh, rus_Cyrl) for models that "
              "take one (NLLB); default: detected.")  # fmt: skip
@index_options
@query_options
def search_cmd(
    query: str | None,
    words: str | None,
    relevant: bool,
    sort: str,
    lang: str | None,
    index_name: str | None,
    home: str | None,
    top: int,
    min_score: float | None,
    add: Sequence[str],
    sub: Sequence[str],
    device: str | None,
    preview: bool,
    as_json: bool,
    **filter_flags: Any,
) -> None:
    """Find images matching a description (or an image path), text in them, or metadata, best first.

    QUERY and --text together rank by both (reciprocal rank fusion); QUERY may be left out when
    --text or a filter is given."""
    from ..config import IndexLocation
    from ..query.prefetch import prefetch_query

    # start embedding the text (not a picture path) and reading the vectors while the rest loads
    texts = [query] if query and not os.path.exists(query) else []
    prefetch_query(IndexLocation.resolve(index_name, home).path, texts, device)
    from .. import api
    from ..query.hybrid import find

    filters = filters_from(filter_flags)
    with api.open_index(index_name, home) as store:
        searcher = api.searcher(store, device=device, language=lang)
        results = find(searcher, query, words=words, k=top, min_score=min_score, add=add, sub=sub, filters=filters,
                       sort=sort, relevant=relevant)  # fmt: skip
    print_results(results, as_json, preview)


@cli.command("similar")
@click.argument("path", type=click.Path())
@click.option("--page", type=int, default=None, help="Page of a PDF to query by (1-based; default 1).")
@click.option("--time", "at", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="Frame of a video to query by (default: its first); PATH#t=SECONDS says the same.")  # fmt: skip
@click.option("--region", type=click.Choice(sorted(REGIONS)), default=None, help="Compare only this region.")
@index_options
@query_options
def similar_cmd(
    path: str,
    page: int | None,
    at: float | None,
    region: str | None,
    index_name: str | None,
    home: str | None,
    top: int,
    min_score: float | None,
    add: Sequence[str],
    sub: Sequence[str],
    device: str | None,
    preview: bool,
    as_json: bool,
    **filter_flags: Any,
) -> None:
    """Find images that look like the image at PATH (which need not be indexed)."""
    from .. import api

    filters = filters_from(filter_flags)
    path, in_page, in_time = api.parse_item_ref(path)  # "clip.mp4#t=12.5", "doc.pdf#page=3"
    page, at = page if page is not None else in_page, at if at is not None else in_time
    with api.open_index(index_name, home) as store:
        results = api.searcher(store, device=device).similar(
            path, top, min_score, add, sub, page=page, filters=filters, region=region, time=at
        )
    print_results(results, as_json, preview)
