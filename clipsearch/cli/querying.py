"""Query commands: ``search`` (text, or an image path) and ``similar`` (an image, a PDF page)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from ..config import REGIONS
from .app import cli, print_results, show
from .options import Ranking, Where, filter_options, location_options, ranking_options

if TYPE_CHECKING:
    from ..front.index import Filters, SearchResult

DEVICE_HELP = "auto, cpu, cuda, mps."
DOCUMENTS_HELP = ("Each document once (a PDF, or a picture: one page): its best page, its score, and how many of its "
                  "pages match (reach --min-score, else the last document's score).")  # fmt: skip


def print_listing(results: list[SearchResult], ranking: Ranking, first: int = 1) -> None:
    """Results as ``print_results`` shows them, ranked from ``first`` (a later page's); documents
    with ``3/5 pages`` (matched of indexed) and their best page."""
    if ranking.as_json or not results or not hasattr(results[0], "pages_matched"):
        print_results(results, ranking.as_json, ranking.preview, first)
        return
    from .app import _drawn
    from .preview import detect

    protocol = (detect(is_terminal=sys.stdout.isatty()) or "blocks") if ranking.preview else None
    click.echo(f"{'rank':>4}  {'score':>7}  {'pages':>11}  {'taken':<10}  path")
    for rank, r in enumerate(results, first):
        pages = f"{getattr(r, 'pages_matched', 1)}/{getattr(r, 'pages', 1)} pages"
        best = f"  (best page {r.page})" if r.page and r.time is None else ""
        labels = "  [" + ", ".join(r.categories.values()) + "]" if r.categories else ""
        click.echo(f"{rank:>4}  {r.score:7.3f}  {pages:>11}  {(r.taken or '')[:10]:<10}  {show(r.path)}{best}{labels}")
        if r.text_snippet:
            click.echo(f"{'':>4}  {'':>7}  {'':>11}  {'':<10}  {show(r.text_snippet)}")
        if protocol:
            click.echo(_drawn(r, protocol), nl=False, color=True)


@cli.command("search")
@click.argument("query", required=False)
@click.option("--text", "words", metavar="WORDS", help="Words in the picture or page (OCR, PDF text); "
              "\"quoted phrases\"; codes like KX-2291-B match letter for letter.")  # fmt: skip
@click.option("--relevant", is_flag=True, help="Only results the model itself calls a match.")
@click.option("--documents", is_flag=True, help=DOCUMENTS_HELP)
@click.option("--sort", type=click.Choice(["score", "date"]), default="score", show_default=True)
@click.option("--lang", default=None, metavar="CODE", help="The query's language (ru, zh, rus_Cyrl) for models that "
              "take one (NLLB); default: detected.")  # fmt: skip
@location_options
@ranking_options
@filter_options
@click.option("--device", default=None, help=DEVICE_HELP)
def search_cmd(query: str | None, words: str | None, relevant: bool, documents: bool, sort: str, lang: str | None,
               where: Where, ranking: Ranking, filters: Filters, device: str | None) -> None:  # fmt: skip
    """Find images matching a description (or an image path), text in them, or metadata, best first.

    QUERY is read as the page's search box reads it: words describe the picture, text:WORDS is
    text in it, after:/before:/under:/type:/place:/camera:/category: filter, -WORD leaves out a
    category of that name or else takes WORD's meaning away. QUERY and --text together rank by
    both (reciprocal rank fusion); QUERY may be left out when --text or a filter is given."""
    from ..front.index import Index

    # start embedding the text (not a picture path) and reading the vectors while the rest loads
    Index.prefetch(*where, [query] if query and _plain(query) else [], device)
    with Index.open(*where, device=device, language=lang) as ix:
        answer = ix.ask(query or "", text=words, filters=filters, k=ranking.top, offset=ranking.offset,
                        min_score=ranking.min_score, add=ranking.add, sub=ranking.sub, sort=sort, relevant=relevant,
                        documents=documents, files=True, include_self=ranking.include_self)  # fmt: skip
    if not ranking.as_json and _read_differently(query, answer.read_as):
        click.echo("read as: " + _reading(answer.read_as), err=True)
    if answer.empty and not ranking.as_json:
        click.echo(f"nothing found: {answer.empty}", err=True)
        return
    print_listing(answer.results, ranking, first=answer.offset + 1)


def _plain(query: str) -> bool:
    """Whether ``query`` is a description as typed (no file, no key:value or -WORD), worth
    embedding before the index is open."""
    return not os.path.exists(query) and ":" not in query and not any(w.startswith("-") for w in query.split())


def _read_differently(query: str | None, read_as: dict[str, object]) -> bool:
    """Whether the line said more than a description (filters, text:, -WORD)."""
    return bool(query) and (read_as.get("query") != query or any(read_as.get(k) for k in ("subtract", "filters"))
                            or (read_as.get("text") is not None and "text:" in (query or "")))  # fmt: skip


def _reading(read_as: dict[str, object]) -> str:
    """How a line was read, for people: ``meaning "a red circle" · minus star · after: 2023``."""
    parts = [f"meaning “{read_as['query']}”"] if read_as.get("query") else []
    parts += [f"text “{str(read_as['text']).strip(chr(34))}”"] if read_as.get("text") else []
    parts += [f"minus {w}" for w in read_as.get("subtract") or ()]  # type: ignore[attr-defined]
    for key, value in (read_as.get("filters") or {}).items():  # type: ignore[attr-defined]
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        parts.append(f"not category: {shown}" if key == "not_category" else f"{key}: {shown}")
    return " · ".join(parts)


@cli.command("similar")
@click.argument("path", type=click.Path())
@click.option("--page", type=int, default=None, help="Page of a PDF to query by (1-based); without it a PDF's "
              "pages all make the query and documents are ranked (see --documents).")  # fmt: skip
@click.option("--documents/--pages", default=None, help=DOCUMENTS_HELP + " Default: for a PDF given with no "
              "--page; --pages ranks pages (a PDF's page 1 then).")  # fmt: skip
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
def similar_cmd(path: str, page: int | None, documents: bool | None, at: float | None, region: str | None,
                box: str | None, where: Where, ranking: Ranking, filters: Filters,
                device: str | None) -> None:  # fmt: skip
    """Find images that look like the image at PATH (which need not be indexed).

    A PDF with no --page (nor PATH#page=N) is compared by all its pages (the first 50): each
    indexed document is listed once, with the best page-to-page cosine, its best page and how many
    of its pages match; the queried file itself is left out."""
    from ..front.index import Index

    with Index.open(*where, device=device) as ix:
        results = ix.similar(path, k=ranking.offset + ranking.top, page=page, time=at, region=region, box=box,
                             filters=filters, min_score=ranking.min_score, add=ranking.add, sub=ranking.sub,
                             documents=documents, include_self=ranking.include_self)  # fmt: skip
    print_listing(results[ranking.offset :], ranking, first=ranking.offset + 1)
