"""``clipsearch duplicates``: report groups, write CSV/HTML, move all but the keeper (a plan shown
and confirmed first), undo, dismiss."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ..config import DEFAULT_MAX_DISTANCE, DUPLICATE_TIERS
from ..errors import UsageError
from .app import cli, show
from .options import Where, filter_options, group, location_options

if TYPE_CHECKING:
    from ..front.duplicates import MovePlan
    from ..front.index import Filters, Group, Index


@dataclass(frozen=True)
class Finding:
    """Which groups: the tiers named (empty: all that apply), their thresholds."""

    tiers: tuple[str, ...]
    max_distance: int
    min_similarity: float | None


#: ``--by``, ``--max-distance``, ``--min-similarity`` as ``finding``.
finding_options = group("finding", [
    ("tiers", click.option("--by", "tiers", multiple=True, type=click.Choice(DUPLICATE_TIERS),
                           help="Tiers to use [all that apply]. With --move-to: the tiers whose matches move "
                                "(without --by: exact, perceptual and document copies move).")),
    ("max_distance", click.option("--max-distance", default=DEFAULT_MAX_DISTANCE, show_default=True,
                                  type=click.IntRange(0, 128), help="Perceptual tier: most differing bits of 128.")),
    ("min_similarity", click.option("--min-similarity", type=click.FloatRange(-1.0, 1.0), default=None,
                                    help="Semantic tier: least cosine [per model].")),
], lambda tiers, max_distance, min_similarity: Finding(tuple(tiers), max_distance, min_similarity))  # fmt: skip


@dataclass(frozen=True)
class Acting:
    """What to do with the groups besides reporting them."""

    move_to: str | None
    undo_log: str | None
    yes: bool
    dismiss_key: str | None


#: ``--move-to``, ``--undo``, ``--yes``, ``--dismiss`` as ``acting``.
acting_options = group("acting", [
    ("move_to", click.option("--move-to", type=click.Path(file_okay=False),
                             help="Move all but the keeper of each group here, to the path relative to its "
                                  "indexed folder; shows the plan and asks first.")),
    ("undo_log", click.option("--undo", "undo_log", type=click.Path(dir_okay=False),
                              help="Reverse a --move-to using its log, and index the files again.")),
    ("yes", click.option("--yes", "-y", is_flag=True, help="Move without asking (needed without a terminal).")),
    ("dismiss_key", click.option("--dismiss", "dismiss_key", metavar="GROUP",
                                 help="Remember that GROUP is not duplicates.")),
], Acting)  # fmt: skip


@cli.command("duplicates")
@location_options
@finding_options
@filter_options
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="Also write the groups as CSV.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Also write an HTML report.")
@acting_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of groups (with --move-to: the plan).")
def duplicates_cmd(
    where: Where, finding: Finding, filters: Filters, csv_file: str | None, html_file: str | None, acting: Acting,
    as_json: bool,
) -> None:  # fmt: skip
    """Find groups of the same picture saved several times (report only, unless asked to act)."""
    from ..front import index as front

    if acting.undo_log:
        _undo(where, acting.undo_log, as_json)
        return
    with front.Index.open(*where) as ix:
        groups = ix.duplicates.find(by=finding.tiers, max_distance=finding.max_distance,
                               min_similarity=finding.min_similarity, filters=filters)  # fmt: skip
        if acting.dismiss_key:
            if acting.move_to:
                raise UsageError("give --dismiss or --move-to, not both: dismiss first, then look at the plan")
            groups = _dismiss(ix, groups, acting.dismiss_key)
        ix.duplicates.write(groups, csv=csv_file, html=html_file)  # before any move: the files are there
        if acting.move_to:
            _move(ix, groups, finding.tiers, acting, as_json)
            return
    _print_groups(groups, as_json)


def _dismiss(ix: Index, groups: list[Group], key: str) -> list[Group]:
    match = [g for g in groups if g.key == key]
    if not match:
        raise UsageError(f"no duplicate group {key!r} now (see `clipsearch duplicates`)")
    ix.duplicates.dismiss(match[0])
    click.echo(f"group {key} dismissed: it will not be reported again", err=True)
    return [g for g in groups if g.key != key]


def _undo(where: Where, log: str, as_json: bool) -> None:
    from ..front import index as front

    with front.Index.open(*where) as ix:
        restored, problems = ix.duplicates.undo(log)
    for p in problems:
        click.echo(f"  {show(p)}", err=True)
    click.echo(
        json.dumps({"restored": restored, "problems": problems})
        if as_json
        else f"restored {restored} files, indexed again"
    )


def _move(ix: Index, groups: list[Group], tiers: Sequence[str], acting: Acting, as_json: bool) -> None:
    """Show the plan; move on --yes or when a person at a terminal says so; without either, refuse."""
    assert acting.move_to is not None
    plan = ix.duplicates.plan(groups, acting.move_to, tiers=tiers)
    count, dest = len(plan.moving), show(plan.dest)
    if not as_json:
        _print_plan(plan)
    click.echo(f"{count} files to move to {dest}, {len(plan.entries) - count} left in place", err=True)
    report = None
    if count and not acting.yes:
        if not can_ask():
            if as_json:
                click.echo(json.dumps({**plan.to_dict(), "moved": 0, "log": None, "problems": []}))
            raise UsageError(f"nothing moved: no terminal to ask on; pass --yes to move {_files(count)}")
        if not click.confirm(f"Move {_files(count)} to {dest}?", default=False, err=True):
            click.echo("nothing moved", err=True)
            count = 0
    if count:
        report = ix.duplicates.move(plan)
        for p in report.problems:
            click.echo(f"  {show(p)}", err=True)
        click.echo(f"moved {report.moved} files to {dest}; undo with: clipsearch duplicates --undo {report.log}",
                   err=True)  # fmt: skip
    if as_json:
        done = report.to_dict() if report else {"moved": 0, "log": None, "problems": []}
        click.echo(json.dumps({**plan.to_dict(), **done}))


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def can_ask() -> bool:
    """Whether a person can answer a question: stdin is a terminal."""
    return sys.stdin is not None and sys.stdin.isatty()


def _print_plan(plan: MovePlan) -> None:
    """Each group's members: kept, moved (with the evidence and the target) or left, and why."""
    from ..front import index as front

    shown_group = None
    for e in plan.entries:
        if e.group != shown_group:
            click.echo(f"group {e.group}")
            shown_group = e.group
        name = show(front.display_path(e.source, e.page, e.time))
        if e.moves:
            click.echo(f"  move  {e.tier:<11} {name}  ->  {show(e.target or '')}")
        elif e.why == "keeper":
            click.echo(f"  keep  {'':<11} {name}")
        else:
            click.echo(f"  stay  {e.tier:<11} {name}  ({show(e.why or '')})")


def _print_groups(groups: list[Group], as_json: bool) -> None:
    from ..front import index as front

    if as_json:
        click.echo(json.dumps([g.to_dict() for g in groups]))
        return
    if not groups:
        click.echo("no duplicates found", err=True)
    for g in groups:
        click.echo(f"group {g.key}  ({g.tier}, {len(g.members)} items)")
        for m in g.members:
            evidence = ("newest" if g.tier == "revision" else "keeper") if m.keeper else f"{m.tier} {m.distance:g}"
            mark = "keep" if m.keeper else "    "
            shown = show(front.display_path(m.item.path, m.item.page, m.item.time))
            click.echo(f"  {mark}  {evidence:<18} {m.item.width}x{m.item.height:<6} {shown}")
            for c in m.changes:  # a revision: what it says where the newest says otherwise
                click.echo(f"        {'':<18} changed: {show(c['from'])} -> {show(c['to'])}")
