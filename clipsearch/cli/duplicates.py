"""``clipsearch duplicates``: report groups, write CSV/HTML, move all but the keeper, undo, dismiss."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from ..config import DEFAULT_MAX_DISTANCE, DUPLICATE_TIERS
from ..errors import UsageError
from .app import cli, index_options, show


@cli.command("duplicates")
@index_options
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
    from .. import api
    from ..query import duplicates as dup
    from ..query import reports
    from ..query.search import CategoryFilter

    if undo_log:
        restored, problems = dup.undo_moves(undo_log)
        for p in problems:
            click.echo(f"  not restored: {show(p)}", err=True)
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
            click.echo(f"  {mark}  {evidence:<18} {m.item.width}x{m.item.height:<6} {show(reports.display(m.item))}")
