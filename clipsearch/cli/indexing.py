"""Commands that build and keep an index: ``index``, ``status``, ``check``."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from .app import ProgressBar, cli, show
from .options import Where, index_options, location_options, model_options, runtime_options

if TYPE_CHECKING:
    from ..config import ModelChoice, RuntimeChoice
    from ..front.index import IndexOptions, IndexReport


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@location_options
@model_options
@runtime_options
@index_options
@click.option("--rebuild", is_flag=True, help="Delete the index first (e.g. to change model).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report.")
def index_cmd(paths: Sequence[str], where: Where, model: ModelChoice, run: RuntimeChoice, options: IndexOptions,
              rebuild: bool, progress: bool | None, as_json: bool) -> None:  # fmt: skip
    """Embed every image under PATHS (incremental: only new or changed files run the model)."""
    from ..front.index import Index

    bars = ProgressBar(enabled=progress), ProgressBar(progress, "reading text", "picture")
    with bars[0] as bar, bars[1] as text_bar, Index.create(*where, model=model, run=run, options=options,
                                                           rebuild=rebuild, roots=paths) as ix:  # fmt: skip
        report = ix.add(paths, options=options, progress=bar.update, text_progress=text_bar.update)
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
@location_options
@click.option("--json", "as_json", is_flag=True)
def status_cmd(where: Where, as_json: bool) -> None:
    """What is indexed, with which model, how big."""
    from ..front.index import Index

    with Index.open(*where) as ix:
        info = ix.status()
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
            f"{info['with_text']} items with text (OCR: {info['ocr']}, engine {info.get('ocr_engine', 'auto')}; "
            "PDF text layers always)"
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
@location_options
@click.option("--repair", is_flag=True, help="Fix what is found: salvage a damaged catalog, rebuild the vector "
              "index, re-embed damaged vectors, drop orphans and missing files.")  # fmt: skip
@click.option("--deep", is_flag=True, help="Check every item and SQLite's full integrity (slower).")
@click.option("--device", default=None, help="Device for re-embedding, when --repair needs the model.")
@click.option("--json", "as_json", is_flag=True)
def check_cmd(where: Where, repair: bool, deep: bool, device: str | None, as_json: bool) -> None:
    """Verify that the catalog, the vector index and the files agree. Exit 0 when they do, 1 when not."""
    from ..front import index as front

    report = front.Index.verify(*where, repair=repair, deep=deep, device=device)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        data = report.to_dict()
        click.echo(f"{'ok' if report.ok else 'PROBLEMS FOUND'}: {report.items} items, {report.vectors} vectors")
        for key in front.PROBLEMS:
            if data[f"{key}_count"]:
                click.echo(f"  {key.replace('_', ' ')}: {data[f'{key}_count']}")
                if key == "missing_files":  # which: the user is the one who can bring them back
                    more = data["missing_files_count"] - len(data[key])
                    for path in data[key]:
                        click.echo(f"    {show(path)}")
                    if more > 0:
                        click.echo(f"    ... and {more} more (--json lists the first {len(data[key])})")
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
@location_options
@click.option("--json", "as_json", is_flag=True)
def move_catalog_cmd(url: str, where: Where, as_json: bool) -> None:
    """Move an index's catalog from its SQLite file onto a PostgreSQL server (a new, empty database).

    Every item, vector, text, category and label goes across with its id; nothing is embedded again.
    The password, if any, comes from the URL this once, then from PGPASSWORD or ~/.pgpass."""
    from ..front.index import Index

    with Index.open(*where) as ix:
        report = ix.move_catalog(url)
    if as_json:
        click.echo(json.dumps(report))
        return
    rows = report["rows"]
    assert isinstance(rows, dict)
    click.echo(f"index {report['index']!r} now keeps its catalog in {report['catalog']} "
               f"({rows.get('items', 0)} items, {sum(rows.values())} rows copied)")  # fmt: skip


@cli.command("watch")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@location_options
@model_options
@runtime_options
@index_options
@click.option("--poll", is_flag=True, help="Poll for changes instead of file-system events (network mounts).")
@click.option("--quiet-for", "quiet", default=1.0, show_default=True, type=click.FloatRange(0.05),
              help="Seconds without changes before a burst is indexed.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report per line, one per run.")
def watch_cmd(paths: Sequence[str], where: Where, model: ModelChoice, run: RuntimeChoice, options: IndexOptions,
              poll: bool, quiet: float, as_json: bool) -> None:  # fmt: skip
    """Index PATHS, then keep the index current as files are added, changed, moved or deleted.

    Catches up first with what changed while nothing watched; holds the index's writer lock until
    stopped (Ctrl-C or SIGTERM), which ends it between runs with nothing half-written."""
    import signal
    import threading

    from ..front import index as front

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(r: IndexReport) -> None:
        # After the catch-up run (which Ctrl-C interrupts, keeping its commits), Ctrl-C only asks
        # the watch to end between runs: a second press during shutdown changes nothing.
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        click.echo(json.dumps(r.to_dict())) if as_json else _print_report(r)
        sys.stdout.flush()

    # Ctrl-C is how a watch ends: between runs, or keeping a run's commits
    with contextlib.suppress(KeyboardInterrupt), front.Index.create(*where, model=model, run=run, options=options,
                                                                    roots=paths) as ix:  # fmt: skip
        ix.watch(paths, options=options, settings=front.WatchSettings(quiet=quiet, poll=poll), on_batch=report,
                 stop=stop)  # fmt: skip
    click.echo("clipsearch: stopped watching; the index is complete up to the last run", err=True)
