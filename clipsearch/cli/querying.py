"""Query commands: ``search`` (text, or an image path) and ``similar`` (an image, a PDF page)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from ..config import REGIONS
from .app import cli, print_results
from .options import Ranking, Where, filter_options, location_options, ranking_options

if TYPE_CHECKING:
    from ..front.index import Filters

DEVICE_HELP = "auto, cpu, cuda, mps."


@cli.command("search")
@click.argument("query", required=False)
@click.option("--text", "words", metavar="WORDS", help="Words in the picture or page (OCR, PDF text); "
              "\"quoted phrases\"; codes like KX-2291-B match letter for letter.")  # fmt: skip
@click.option("--relevant", is_flag=True, help="Only results the model itself calls a match.")
@click.option("--sort", type=click.Choice(["score", "date"]), default="score", show_default=True)
@click.option("--lang", default=None, metavar="CODE", help="The query's language (ru, zh, rus_Cyrl) for models that "
              "take one (NLLB); default: detected.")  # fmt: skip
@location_options
@ranking_options
@filter_options
@click.option("--device", default=None, help=DEVICE_HELP)
def search_cmd(query: str | None, words: str | None, relevant: bool, sort: str, lang: str | None, where: Where,
               ranking: Ranking, filters: Filters, device: str | None) -> None:  # fmt: skip
    """Find images matching a description (or an image path), text in them, or metadata, best first.

    QUERY and --text together rank by both (reciprocal rank fusion); QUERY may be left out when
    --text or a filter is given."""
    from ..front.index import Index

    # start embedding the text (not a picture path) and reading the vectors while the rest loads
    Index.prefetch(*where, [query] if query and not os.path.exists(query) else [], device)
    with Index.open(*where, device=device, language=lang) as ix:
        results = ix.search(query, text=words, k=ranking.top, min_score=ranking.min_score, add=ranking.add,
                            sub=ranking.sub, filters=filters, sort=sort, relevant=relevant)  # fmt: skip
    print_results(results, ranking.as_json, ranking.preview)


@cli.command("similar")
@click.argument("path", type=click.Path())
@click.option("--page", type=int, default=None, help="Page of a PDF to query by (1-based; default 1).")
@click.option("--time", "at", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="Frame of a video to query by (default: its first); PATH#t=SECONDS says the same.")  # fmt: skip
@click.option("--region", type=click.Choice(sorted(REGIONS)), default=None, help="Compare only this region.")
@click.option("--box", metavar="X0,Y0,X1,Y1", default=None,
              help="Search by this part of the picture only (fractions of its width and height: "
                   "0.5,0,1,1 is the right half).")  # fmt: skip
@location_options
@ranking_options
@filter_options
@click.option("--device", default=None, help=DEVICE_HELP)
def similar_cmd(path: str, page: int | None, at: float | None, region: str | None, box: str | None, where: Where,
                ranking: Ranking, filters: Filters, device: str | None) -> None:  # fmt: skip
    """Find images that look like the image at PATH (which need not be indexed)."""
    from ..front.index import Index

    with Index.open(*where, device=device) as ix:
        results = ix.similar(path, k=ranking.top, page=page, time=at, region=region, box=box, filters=filters,
                             min_score=ranking.min_score, add=ranking.add, sub=ranking.sub)  # fmt: skip
    print_results(results, ranking.as_json, ranking.preview)
