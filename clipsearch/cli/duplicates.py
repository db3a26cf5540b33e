"""``clipsearch duplicates``: report groups, write CSV/HTML, move all but the keeper, undo, dismiss."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from ..config import DEFAULT_MAX_DISTANCE, DUPLICATE_TIERS
from ..errors import UsageError
from .app import cli, show
from .options import Where, location_options


@cli.command("duplicates")
@location_options
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
    where: Where,
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
    from ..front import index as front

    if undo_log:
        restored, problems = front.Index.undo_moves(undo_log)
        for p in problems:
            click.echo(f"  not restored: {show(p)}", err=True)
        click.echo(
            json.dumps({"restored": restored, "problems": problems}) if as_json else f"restored {restored} files"
        )
        return
    filters = front.Filters(tuple(include), tuple(exclude))
    with front.Index.open(*where) as ix:
        groups = ix.duplicates(by=tiers, max_distance=max_distance, min_similarity=min_similarity, filters=filters)
        if dismiss_key:
            match = [g for g in groups if g.key == dismiss_key]
            if not match:
                raise UsageError(f"no duplicate group {dismiss_key!r} now (see `clipsearch duplicates`)")
            ix.dismiss(match[0])
            click.echo(f"group {dismiss_key} dismissed: it will not be reported again", err=True)
            groups = [g for g in groups if g.key != dismiss_key]
        if move_to:
            log, moved = ix.move_duplicates(groups, move_to)
            click.echo(f"moved {moved} files to {move_to}; undo with: clipsearch duplicates --undo {log}", err=True)
    front.Index.write_duplicates(groups, csv=csv_file, html=html_file)
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
            shown = show(front.display_path(m.item.path, m.item.page, m.item.time))
            click.echo(f"  {mark}  {evidence:<18} {m.item.width}x{m.item.height:<6} {shown}")
