"""Commands that build and keep an index: ``index``, ``status``, ``check``."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..config import DEFAULT_MAX_MEGAPIXELS, DEFAULT_MAX_PAGES, OCR_MODES, PRECISION_CHOICES, RUNTIMES
from ..ingest.regions import REGIONS, SCOPES
from .app import ProgressBar, cli, index_options, show

if TYPE_CHECKING:
    from ..ingest.indexer import IndexReport


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_options
@click.option("--model", default=None, help="A preset (fast, multilingual, best), an open_clip architecture, "
              "hf-hub:ORG/NAME, local-dir:FOLDER, a config JSON path, or tiny-shapes.")  # fmt: skip
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
@click.option("--file-timeout", default=120.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds one file may take to decode before it is skipped with that reason.")  # fmt: skip
@click.option("--ocr-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds the text pass may spend on one picture before marking its text unreadable.")  # fmt: skip
@click.option("--follow-links", is_flag=True,
              help="Index file symlinks that point outside the folders given (skipped by default).")  # fmt: skip
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
    type=click.Choice(PRECISION_CHOICES),
    default=None,
    help="Image precision, remembered by the index: auto (a new index's default) is the fastest of fp32, bf16 "
    "(CPUs with AVX512_BF16/AMX) and int8 (dynamic quantisation) that keeps cosine >= 0.999 to fp32, measured "
    "once on this CPU; an existing index keeps its own.",
)
@click.option(
    "--runtime",
    type=click.Choice(RUNTIMES),
    default=None,
    envvar="CLIPSEARCH_RUNTIME",
    help="auto: PyTorch on a GPU; on a CPU OpenVINO, or ONNX Runtime where OpenVINO is not installed.",
)
@click.option(
    "--ocr",
    type=click.Choice(OCR_MODES),
    default=None,
    envvar="CLIPSEARCH_OCR",
    help="Read text in pictures and scanned pages, remembered by the index: auto (where a text detector finds "
    "some; a new index's default), all, or none. PDF text layers are always read.",
)
@click.option("--ray", "ray_address", default=None, metavar="local|ADDRESS", envvar="CLIPSEARCH_RAY",
              help="Read, decode and embed on a Ray cluster: 'local' starts one sized to this machine; an address "
              "joins a running one. Every node must read the files at the same paths.")  # fmt: skip
@click.option("--catalog", default=None, metavar="postgresql://USER@HOST/DB",
              help="Keep a new index's catalog in PostgreSQL (default: $CLIPSEARCH_CATALOG, else SQLite in the "
                   "index folder). The password comes from PGPASSWORD or ~/.pgpass, never stored.")  # fmt: skip
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
    file_timeout: float,
    ocr_timeout: float,
    follow_links: bool,
    regions: Sequence[str],
    region_scope: str | None,
    index_type: str | None,
    precision: str | None,
    runtime: str | None,
    ocr: str | None,
    ray_address: str | None,
    catalog: str | None,
    rebuild: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Embed every image under PATHS (incremental: only new or changed files run the model)."""
    from .. import api
    from ..config import ModelChoice, RuntimeChoice
    from ..ingest.indexer import IndexOptions

    options = IndexOptions(
        exclude=tuple(exclude),
        include_hidden=hidden,
        batch_size=batch_size,
        workers=workers,
        max_megapixels=max_megapixels,
        commit_every=commit_every,
        file_timeout=file_timeout,
        ocr_timeout=ocr_timeout,
        follow_links=follow_links,
        max_pages=max_pages,
        regions=tuple(regions),
        region_scope=region_scope,
        index_type=index_type,
        ocr=ocr,
        ray=ray_address,
        catalog=catalog,
    )
    with ProgressBar(enabled=progress) as bar, ProgressBar(progress, "reading text", "picture") as text_bar:
        report = api.index(
            paths,
            index=index_name,
            home=home,
            model=ModelChoice(model, pretrained),
            run=RuntimeChoice(runtime=runtime, precision=precision, device=device),
            options=options,
            rebuild=rebuild,
            progress=bar.update,
            text_progress=text_bar.update,
        )
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        _print_report(report)


def _print_report(r: IndexReport) -> None:
    click.echo(
        f"{r.items} items indexed: {r.added} added, {r.updated} updated, {r.moved} moved, {r.removed} removed, "
        f"{r.unchanged} unchanged, {r.skipped} skipped ({r.embedded} embedded in {r.seconds:.1f}s)"
    )
    for s in r.skipped_files[:20]:
        click.echo(f"  skipped {show(s['path'])}: {s['reason']}", err=True)
    if len(r.skipped_files) > 20:
        click.echo(f"  ... and {len(r.skipped_files) - 20} more (see --json)", err=True)
    for p in r.partial_files[:20]:
        click.echo(f"  partly indexed {show(p['path'])}: {p['note']}", err=True)
    t = r.text
    if t.get("read") or t.get("changed"):
        unreadable = f", {t['unreadable']} unreadable" if t["unreadable"] else ""
        click.echo(f"text read in {t['read']} pictures ({t['with_text']} with text{unreadable}) in {t['seconds']:.1f}s")
        for u in t["unreadable_files"][:20]:
            click.echo(f"  text unreadable {show(u['path'])}: {u['reason']}", err=True)


@cli.command("status")
@index_options
@click.option("--json", "as_json", is_flag=True)
def status_cmd(index_name: str | None, home: str | None, as_json: bool) -> None:
    """What is indexed, with which model, how big."""
    from .. import api

    with api.open_index(index_name, home) as store:
        info = store.status()
    if as_json:
        click.echo(json.dumps(info))
        return
    model = f"{info['model']} ({info['pretrained']})"
    if info["toy_model"]:
        model += f"  [toy model: {info['model_description']}]"
    rule = "sigmoid(scale*cos + bias)" if info["score_rule"] == "sigmoid" else "softmax over captions"
    model += f"\n{'':>8}  licence: {info['licence'] or 'not recorded: check the weights source'}; scores: {rule}"
    rows = [
        ("index", f"{info['index']}  ({info['path']})"),
        ("items", f"{info['items']} from {info['files']} files ({info['skipped']} files skipped)"),
        ("catalog", info["catalog"]),
        ("model", model),
        ("vectors", f"{info['dim']}-dim, {info['index_type']}"),
        ("images", _encoding_line(info["encoding"])),
        (
            "text",
            f"{info['with_text']} items with text (OCR: {info['ocr']}; PDF text layers always)"
            + (f"; {info['waiting_for_text']} waiting to be read" if info["waiting_for_text"] else "")
            + (f"; {info['text_unreadable']} unreadable" if info["text_unreadable"] else ""),
        ),
        ("on disk", f"{info['disk_bytes'] / 1e6:.1f} MB"),
    ]
    for key, value in rows:
        click.echo(f"{key:>8}  {value}")


def _encoding_line(encoding: dict[str, object]) -> str:
    """How the index's images were embedded last, and why: '<precision> in <runtime> (<why>)'."""
    runtime = encoding.get("runtime")
    group = f", group {encoding['group']}" if encoding.get("group") else ""
    where = f" in {runtime}{group}" if runtime else ""
    why = str(encoding.get("why") or "")
    return f"{encoding.get('precision', 'fp32')}{where}" + (f"  ({why.split(';')[0]})" if why else "")


@cli.command("check")
@index_options
@click.option("--repair", is_flag=True, help="Fix what is found: salvage a damaged catalog, rebuild the vector "
              "index, re-embed damaged vectors, drop orphans and missing files.")  # fmt: skip
@click.option("--deep", is_flag=True, help="Check every item and SQLite's full integrity (slower).")
@click.option("--device", default=None, help="Device for re-embedding, when --repair needs the model.")
@click.option("--json", "as_json", is_flag=True)
def check_cmd(index_name: str | None, home: str | None, repair: bool, deep: bool, device: str | None,
              as_json: bool) -> None:  # fmt: skip
    """Verify that the catalog, the vector index and the files agree. Exit 0 when they do, 1 when not."""
    from .. import api
    from ..ingest.check import PROBLEMS

    report = api.check(index=index_name, home=home, repair=repair, deep=deep, device=device)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        data = report.to_dict()
        click.echo(f"{'ok' if report.ok else 'PROBLEMS FOUND'}: {report.items} items, {report.vectors} vectors")
        for key in PROBLEMS:
            if data[f"{key}_count"]:
                click.echo(f"  {key.replace('_', ' ')}: {data[f'{key}_count']}")
        for line in report.catalog_problems[:3]:
            click.echo(f"    {line}")
        for key, n in report.repaired.items():
            click.echo(f"  repaired: {key.replace('_', ' ')}: {n}")
        if report.salvaged:
            lost = {t: n for t, n in report.salvaged["lost"].items() if n}
            kept = sum(report.salvaged["kept"].values())
            click.echo(f"  salvaged the catalog: {kept} rows kept, {sum(lost.values())} lost {lost or ''}")
            click.echo(f"  the damaged file is kept as {report.salvaged['damaged_copy']}")
            if report.salvaged.get("unreadable"):
                click.echo(f"  could not read at all: {', '.join(report.salvaged['unreadable'])}")
            again = report.salvaged.get("indexed_again")
            if again:
                click.echo(f"  indexed the remembered folders again: {again['embedded']} embedded")
    if not report.ok:
        sys.exit(1)


@cli.command("move-catalog")
@click.argument("url", metavar="postgresql://USER@HOST/DB")
@index_options
@click.option("--json", "as_json", is_flag=True)
def move_catalog_cmd(url: str, index_name: str | None, home: str | None, as_json: bool) -> None:
    """Move an index's catalog from its SQLite file onto a PostgreSQL server (a new, empty database).

    Every item, vector, text, category and label goes across with its id; nothing is embedded again.
    The password, if any, comes from the URL this once, then from PGPASSWORD or ~/.pgpass."""
    from .. import api

    report = api.move_catalog(url, index_name, home)
    if as_json:
        click.echo(json.dumps(report))
        return
    rows = report["rows"]
    assert isinstance(rows, dict)
    click.echo(f"index {report['index']!r} now keeps its catalog in {report['catalog']} "
               f"({rows.get('items', 0)} items, {sum(rows.values())} rows copied)")  # fmt: skip


@cli.command("watch")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_options
@click.option("--model", default=None, help="Model of a new index (as for index).")
@click.option("--pretrained", default=None, help="Weights of a new index's model (as for index).")
@click.option("--device", default=None, help="auto (default), cpu, cuda, mps.")
@click.option("--runtime", type=click.Choice(RUNTIMES), default=None, envvar="CLIPSEARCH_RUNTIME")
@click.option("--precision", type=click.Choice(PRECISION_CHOICES), default=None)
@click.option("--ocr", type=click.Choice(OCR_MODES), default=None, envvar="CLIPSEARCH_OCR")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files or folders matching (repeatable).")
@click.option("--hidden", is_flag=True, help="Include hidden files and folders.")
@click.option("--poll", is_flag=True, help="Poll for changes instead of file-system events (network mounts).")
@click.option("--quiet-for", "quiet", default=1.0, show_default=True, type=click.FloatRange(0.05),
              help="Seconds without changes before a burst is indexed.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report per line, one per run.")
def watch_cmd(
    paths: Sequence[str],
    index_name: str | None,
    home: str | None,
    model: str | None,
    pretrained: str | None,
    device: str | None,
    runtime: str | None,
    precision: str | None,
    ocr: str | None,
    exclude: Sequence[str],
    hidden: bool,
    poll: bool,
    quiet: float,
    as_json: bool,
) -> None:
    """Index PATHS, then keep the index current as files are added, changed, moved or deleted.

    Catches up first with what changed while nothing watched; holds the index's writer lock until
    stopped (Ctrl-C or SIGTERM), which ends it between runs with nothing half-written."""
    import signal
    import threading

    from .. import api
    from ..config import ModelChoice, RuntimeChoice
    from ..ingest.indexer import IndexOptions
    from ..ingest.watch import WatchSettings

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(r: IndexReport) -> None:
        # After the catch-up run (which Ctrl-C interrupts, keeping its commits), Ctrl-C only asks
        # the watch to end between runs: a second press during shutdown changes nothing.
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        click.echo(json.dumps(r.to_dict())) if as_json else _print_report(r)
        sys.stdout.flush()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends: between runs, or keeping a run's commits
        api.watch(
            paths, index=index_name, home=home, model=ModelChoice(model, pretrained),
            run=RuntimeChoice(runtime=runtime, precision=precision, device=device),
            options=IndexOptions(exclude=tuple(exclude), include_hidden=hidden, ocr=ocr),
            settings=WatchSettings(quiet=quiet, poll=poll), on_batch=report, stop=stop,
        )  # fmt: skip
    click.echo("clipsearch: stopped watching; the index is complete up to the last run", err=True)
