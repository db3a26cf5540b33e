"""The ``clipsearch`` command: parse, call the library, print. Nothing else lives here.

Errors raised on purpose by the library (:class:`ClipsearchError`) become one line on stderr and
the error's exit code; only a bug shows a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from .config import (
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MAX_PAGES,
    DUPLICATE_TIERS,
    ENV_HOME,
    PRECISIONS,
    RUNTIMES,
)
from .errors import ClipsearchError, UsageError
from .regions import REGIONS, SCOPES

if TYPE_CHECKING:
    from .indexer import IndexReport
    from .search import SearchResult

# The library modules behind each command are imported inside it: `clipsearch search` must not
# pay for SQLAlchemy before it has started embedding the query on another thread.


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClipsearchError as err:
            click.echo(f"clipsearch: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("clipsearch: interrupted (work already committed is kept)", err=True)
            ctx.exit(130)
        except OSError as err:  # disk full, permission denied on the index folder, ...
            click.echo(f"clipsearch: error: {err}", err=True)
            ctx.exit(1)


def _index_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--home", envvar=ENV_HOME, type=click.Path(file_okay=False), help="Folder holding the indexes.")(f)
    return click.option("--index", "index_name", default=None, envvar="CLIPSEARCH_INDEX", help="Index name.")(f)


def _query_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(
        [
            click.option("-k", "--top", default=10, show_default=True, type=click.IntRange(min=1)),
            click.option("--min-score", type=float, default=None, help="Drop results below this cosine."),
            click.option("--add", multiple=True, metavar="[W:]TEXT_OR_IMAGE", help="Add to the query."),
            click.option("--sub", multiple=True, metavar="[W:]TEXT_OR_IMAGE", help="Subtract from the query."),
            click.option("--category", "include", multiple=True, metavar="NAME", help="Only items in NAME."),
            click.option("--not-category", "exclude", multiple=True, metavar="NAME", help="No items in NAME."),
            click.option("--device", default=None, help="auto, cpu, cuda, mps."),
            click.option("--json", "as_json", is_flag=True, help="Print a JSON array."),
        ]
    ):
        f = decorator(f)
    return f


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clipsearch")
def cli() -> None:
    """Search your pictures by describing them, by example, and find duplicates."""


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_index_options
@click.option("--model", default=None, help="open_clip architecture, config JSON path, hf-hub: name, or tiny-shapes.")
@click.option("--pretrained", default=None, help="open_clip tag, hf-hub: name, weights file, or 'none'.")
@click.option("--device", default=None, help="auto (default), cpu, cuda, mps.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files or folders matching (repeatable).")
@click.option("--hidden", is_flag=True, help="Include hidden files and folders.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=None, type=click.IntRange(min=1), help="Decoding threads (default: cores).")
@click.option("--max-megapixels", default=DEFAULT_MAX_MEGAPIXELS, show_default=True, type=float)
@click.option(
    "--max-pages",
    default=DEFAULT_MAX_PAGES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Index at most this many pages of each PDF.",
)
@click.option(
    "--commit-every",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Items per catalog transaction (what an interruption can cost).",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    type=click.Choice(sorted(REGIONS)),
    help="Also store a vector of this page region (title-block), remembered for later runs.",
)
@click.option("--region-scope", type=click.Choice(SCOPES), default=None, help="Pages that get regions [drawings].")
@click.option("--index-type", default=None, metavar="auto|FACTORY",
              help="Vector index: auto (exact below 100k, IVF+SQ8 above) or a FAISS factory string.")  # fmt: skip
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Image precision, remembered by the index: bf16 (CPUs with AVX512_BF16/AMX) and int8 (dynamic "
    "quantisation) run the model ~1.8x and ~2x as fast as fp32 on a CPU, cosine >= 0.999 to fp32 [fp32].",
)
@click.option(
    "--runtime",
    type=click.Choice(RUNTIMES),
    default=None,
    envvar="CLIPSEARCH_RUNTIME",
    help="auto: PyTorch on a GPU; on a CPU OpenVINO, or ONNX Runtime where OpenVINO is not installed.",
)
@click.option("--rebuild", is_flag=True, help="Delete the index first (e.g. to change model).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report.")
def index_cmd(
    paths: Sequence[str],
    index_name: str | None,
    home: str | None,
    model: str | None,
    pretrained: str | None,
    device: str | None,
    exclude: Sequence[str],
    hidden: bool,
    batch_size: int,
    workers: int | None,
    max_megapixels: float,
    max_pages: int,
    commit_every: int,
    regions: Sequence[str],
    region_scope: str | None,
    index_type: str | None,
    precision: str | None,
    runtime: str | None,
    rebuild: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Embed every image under PATHS (incremental: only new or changed files run the model)."""
    from . import api
    from .indexer import IndexOptions

    options = IndexOptions(
        exclude=tuple(exclude),
        include_hidden=hidden,
        batch_size=batch_size,
        workers=workers,
        max_megapixels=max_megapixels,
        commit_every=commit_every,
        max_pages=max_pages,
        regions=tuple(regions),
    )
    with _ProgressBar(enabled=progress) as bar:
        report = api.index(
            paths,
            index=index_name,
            home=home,
            model=model,
            pretrained=pretrained,
            device=device,
            options=options,
            rebuild=rebuild,
            progress=bar.update,
            region_scope=region_scope,
            index_type=index_type,
            precision=precision,
            runtime=runtime,
        )
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        _print_report(report)


class _ProgressBar:
    """tqdm on stderr with a files/s rate; off when stderr is not a terminal unless forced."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar: Any = None

    def __enter__(self) -> _ProgressBar:
        return self

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit="file", desc="indexing", smoothing=0.1, file=sys.stderr, dynamic_ncols=True
            )
        self.bar.n = done
        self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_report(r: IndexReport) -> None:
    click.echo(
        f"{r.items} items indexed: {r.added} added, {r.updated} updated, {r.moved} moved, {r.removed} removed, "
        f"{r.unchanged} unchanged, {r.skipped} skipped ({r.embedded} embedded in {r.seconds:.1f}s)"
    )
    for s in r.skipped_files[:20]:
        click.echo(f"  skipped {_show(s['path'])}: {s['reason']}", err=True)
    if len(r.skipped_files) > 20:
        click.echo(f"  ... and {len(r.skipped_files) - 20} more (see --json)", err=True)


def _show(path: str) -> str:
    """A path safe to print on one line: undecodable bytes and control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _print_results(results: list[SearchResult], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results]))
        return
    if not results:
        click.echo("no results", err=True)
        return
    click.echo(f"{'rank':>4}  {'score':>6}  path")
    for rank, r in enumerate(results, 1):
        labels = "  [" + ", ".join(r.categories.values()) + "]" if r.categories else ""
        click.echo(f"{rank:>4}  {r.score:6.3f}  {_show(r.display_path)}{labels}")


@cli.command("search")
@click.argument("query")
@_index_options
@_query_options
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
    from .config import IndexLocation
    from .prefetch import prefetch_query

    # start embedding the text (not a picture path) and reading the vectors while the rest loads
    prefetch_query(IndexLocation.resolve(index_name, home).path, [] if os.path.exists(query) else [query], device)
    from . import api
    from .search import CategoryFilter

    filters = CategoryFilter(tuple(include), tuple(exclude))
    with api.open_index(index_name, home) as store:
        results = api.searcher(store, device=device).search(query, top, min_score, add, sub, filters=filters)
    _print_results(results, as_json)


@cli.command("similar")
@click.argument("path", type=click.Path())
@click.option("--page", type=int, default=None, help="Page of a PDF to query by (1-based; default 1).")
@click.option("--region", type=click.Choice(sorted(REGIONS)), default=None, help="Compare only this region.")
@_index_options
@_query_options
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
    from . import api
    from .search import CategoryFilter

    filters = CategoryFilter(tuple(include), tuple(exclude))
    with api.open_index(index_name, home) as store:
        results = api.searcher(store, device=device).similar(
            path, top, min_score, add, sub, page=page, filters=filters, region=region
        )
    _print_results(results, as_json)


@cli.command("status")
@_index_options
@click.option("--json", "as_json", is_flag=True)
def status_cmd(index_name: str | None, home: str | None, as_json: bool) -> None:
    """What is indexed, with which model, how big."""
    from . import api

    with api.open_index(index_name, home) as store:
        info = store.status()
    if as_json:
        click.echo(json.dumps(info))
        return
    model = f"{info['model']} ({info['pretrained']})"
    if info["toy_model"]:
        model += f"  [toy model: {info['model_description']}]"
    rows = [
        ("index", f"{info['index']}  ({info['path']})"),
        ("items", f"{info['items']} from {info['files']} files ({info['skipped']} files skipped)"),
        ("model", model),
        ("vectors", f"{info['dim']}-dim, {info['index_type']}"),
        ("on disk", f"{info['disk_bytes'] / 1e6:.1f} MB"),
    ]
    for key, value in rows:
        click.echo(f"{key:>8}  {value}")


@cli.command("check")
@_index_options
@click.option("--repair", is_flag=True, help="Fix what is found (re-embed damaged, drop orphans and missing files).")
@click.option("--device", default=None, help="Device for re-embedding, when --repair needs the model.")
@click.option("--json", "as_json", is_flag=True)
def check_cmd(index_name: str | None, home: str | None, repair: bool, device: str | None, as_json: bool) -> None:
    """Verify that the catalog, the vector index and the files agree. Exit 0 when they do, 1 when not."""
    from . import api
    from .check import check_index, repair_index

    with api.open_index(index_name, home) as store:
        if repair:
            store.acquire_lock()
        report = check_index(store)
        if repair and not report.ok:
            report = repair_index(store, report, api.encoder_factory(store, device=device))
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        data = report.to_dict()
        click.echo(f"{'ok' if report.ok else 'PROBLEMS FOUND'}: {report.items} items, {report.vectors} vectors")
        for key in ("missing_vectors", "orphan_vectors", "duplicate_vectors", "bad_stored_vectors", "missing_files"):
            if data[f"{key}_count"]:
                click.echo(f"  {key.replace('_', ' ')}: {data[f'{key}_count']}")
        for key, n in report.repaired.items():
            click.echo(f"  repaired: {key.replace('_', ' ')}: {n}")
    if not report.ok:
        sys.exit(1)


@cli.command("duplicates")
@_index_options
@click.option("--by", "tiers", multiple=True, type=click.Choice(DUPLICATE_TIERS), help="Tiers to use [all that apply].")
@click.option("--max-distance", default=DEFAULT_MAX_DISTANCE, show_default=True, type=click.IntRange(0, 128),
              help="Perceptual tier: most differing bits of 128.")  # fmt: skip
@click.option("--min-similarity", type=float, default=None, help="Semantic tier: least cosine [per model].")
@click.option("--category", "include", multiple=True, metavar="NAME", help="Only items in NAME.")
@click.option("--not-category", "exclude", multiple=True, metavar="NAME", help="No items in NAME.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="Also write the groups as CSV.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Also write an HTML report.")
@click.option("--move-to", type=click.Path(file_okay=False), help="Move all but the keeper of each group here.")
@click.option("--undo", "undo_log", type=click.Path(dir_okay=False), help="Reverse a --move-to using its log.")
@click.option("--dismiss", "dismiss_key", metavar="GROUP", help="Remember that GROUP is not duplicates.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of groups.")
def duplicates_cmd(
    index_name: str | None,
    home: str | None,
    tiers: Sequence[str],
    max_distance: int,
    min_similarity: float | None,
    include: Sequence[str],
    exclude: Sequence[str],
    csv_file: str | None,
    html_file: str | None,
    move_to: str | None,
    undo_log: str | None,
    dismiss_key: str | None,
    as_json: bool,
) -> None:
    """Find groups of the same picture saved several times (report only, unless asked to act)."""
    from . import api, reports
    from . import duplicates as dup
    from .search import CategoryFilter

    if undo_log:
        restored, problems = dup.undo_moves(undo_log)
        for p in problems:
            click.echo(f"  not restored: {_show(p)}", err=True)
        click.echo(
            json.dumps({"restored": restored, "problems": problems}) if as_json else f"restored {restored} files"
        )
        return
    filters = CategoryFilter(tuple(include), tuple(exclude))
    with api.open_index(index_name, home) as store:
        groups = dup.find_duplicates(
            store, by=tiers or None, max_distance=max_distance, min_similarity=min_similarity, filters=filters
        )
        if dismiss_key:
            match = [g for g in groups if g.key == dismiss_key]
            if not match:
                raise UsageError(f"no duplicate group {dismiss_key!r} now (see `clipsearch duplicates`)")
            store.acquire_lock()
            dup.dismiss(store, match[0])
            click.echo(f"group {dismiss_key} dismissed: it will not be reported again", err=True)
            groups = [g for g in groups if g.key != dismiss_key]
        if move_to:
            store.acquire_lock()
            log, moved = dup.move_duplicates(store, groups, move_to)
            click.echo(f"moved {moved} files to {move_to}; undo with: clipsearch duplicates --undo {log}", err=True)
    if csv_file:
        reports.write_csv(csv_file, groups)
    if html_file:
        reports.write_html(html_file, groups)
    if as_json:
        click.echo(json.dumps([g.to_dict() for g in groups]))
        return
    if not groups:
        click.echo("no duplicates found", err=True)
    for g in groups:
        click.echo(f"group {g.key}  ({g.tier}, {len(g.members)} items)")
        for m in g.members:
            evidence = "centre" if m.tier == "centre" else f"{m.tier} {m.distance:g}"
            mark = "keep" if m.keeper else "    "
            click.echo(f"  {mark}  {evidence:<18} {m.item.width}x{m.item.height:<6} {_show(reports.display(m.item))}")


@cli.command("serve")
@_index_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="CLIPSEARCH_TOKEN", default=None, help="Require this bearer token.")
@click.option("--device", default=None)
def serve_cmd(
    index_name: str | None, home: str | None, host: str, port: int, token: str | None, device: str | None
) -> None:
    """Serve the HTTP API and the web page for one index."""
    import uvicorn

    from . import api
    from .server import create_app, is_loopback

    if not is_loopback(host) and not token:
        click.echo(f"clipsearch: warning: serving on {host} without --token: anyone who can reach it can "
                   "search the index and read the indexed files", err=True)  # fmt: skip
    app = create_app(api.locate(index_name, home), token=token, device=device)
    click.echo(
        f"clipsearch: serving index {app.state.clipsearch.store.location.name!r} on http://{host}:{port}/", err=True
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


#: Commands that only read. Run as a program, they end with ``os._exit`` once their output is
#: flushed: tearing down ONNX Runtime, FAISS and the interpreter costs a cold query ~0.15 s and
#: there is nothing to save or release (the OS drops locks and mappings; SQLite readers hold none).
_QUICK_EXIT = frozenset({"search", "similar", "status"})


def main(argv: Sequence[str] | None = None) -> None:
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        cli.main(args=args, prog_name="clipsearch")
    except SystemExit as done:
        if argv is None and args and args[0] in _QUICK_EXIT:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except OSError:  # e.g. the reader of a pipe went away
                code = code or 1
            os._exit(code)
        raise


# Command groups kept in their own modules register themselves on `cli` when imported.
from . import cli_categories  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    main()
