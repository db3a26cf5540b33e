"""Acting on duplicate groups, safely: plan the moves, make them with a log, undo them.

A move is planned first (:func:`plan_moves`): every member of every group either moves to a target
under the destination or stays where it is, with the reason; nothing on disk changes until
:func:`apply_moves` is handed the plan.

Where a file goes: ``DEST/<its path relative to the indexed folder it lies under>`` (the index's
roots), so two copies in different folders never meet; a file under none of the roots keeps only
its name, under ``DEST/_elsewhere/``. An existing file is never overwritten: a member whose target
exists stays, and a move that would overwrite fails instead.

What never moves:

- the keeper of a group, and any file that holds some group's keeper (a PDF one of whose pages is
  kept);
- PDF pages (the PDF holds other pages too) and video frames; a group of tier ``document`` stands
  for whole PDF files, which move whole (every item of the file leaves the index);
- members of a ``revision`` group, unless the caller named that tier;
- a member matched by weaker evidence than :data:`MOVED_UNNAMED` (a RAW file beside its JPEG: the
  camera's original; a semantic match: the same scene, not the same file), unless the caller named
  that tier (``tiers``).

The log is a JSON-lines file in the destination: its first line names the index the files came
from, then one line per file, written and flushed to disk before that file moves, so a crash leaves
at most one line whose file is still in place. :func:`undo_moves` moves the files back (refusing a
log from another index); the caller then indexes the restored paths again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import UsageError
from ..ingest.scan import absolute, is_under
from ..store.folder import IndexStore
from .duplicates import Group, Member

#: Where a file under none of the index's roots goes, inside the destination.
ELSEWHERE = "_elsewhere"
LOG_FORMAT = 1


@dataclass(frozen=True)
class PlannedMove:
    """One member of a group: moved from ``source`` to ``target``, or left in place (``why``)."""

    source: str
    target: str | None
    group: str
    tier: str  # the evidence that counts: "exact" for a byte copy of the keeper, else the group's tier
    why: str | None = None  # why the file stays; None: it moves
    page: int = 0  # the member's PDF page, 0 for a picture or a whole file
    time: float | None = None  # the member's video frame time

    @property
    def moves(self) -> bool:
        return self.why is None

    def to_dict(self) -> dict[str, Any]:
        data = {"from": self.source, "to": self.target, "group": self.group, "tier": self.tier,
                "move": self.moves, "why": self.why}  # fmt: skip
        if self.page:
            data["page"] = self.page
        if self.time is not None:
            data["time"] = self.time
        return data


@dataclass
class MovePlan:
    """What :func:`apply_moves` would do: every member of every group, moving or staying."""

    dest: str
    entries: list[PlannedMove] = field(default_factory=list)

    @property
    def moving(self) -> list[PlannedMove]:
        return [e for e in self.entries if e.moves]

    def to_dict(self) -> dict[str, Any]:
        return {"dest": self.dest, "to_move": len(self.moving), "entries": [e.to_dict() for e in self.entries]}


@dataclass
class MoveReport:
    """What :func:`apply_moves` did: the log to undo it with, files moved, files that failed."""

    log: str
    moved: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"log": self.log, "moved": self.moved, "problems": self.problems}


def destination(store: IndexStore, dest: str | os.PathLike[str]) -> Path:
    """``dest`` as an absolute folder; one inside an indexed folder is refused (the next ``index``
    would find the moved files there again)."""
    folder = absolute(os.path.expanduser(os.fspath(dest)))
    real_roots = [os.path.realpath(r) for r in store.roots]
    if is_under(folder, store.roots) or is_under(os.path.realpath(folder), real_roots):
        raise UsageError(f"{dest} lies inside a folder this index covers: choose a destination outside them")
    return Path(folder)


def target_of(path: str, roots: Sequence[str], dest: Path) -> Path:
    """``dest/<path relative to the deepest root holding it>``, else ``dest/_elsewhere/<name>``."""
    holding = [r for r in roots if is_under(path, [r])]
    if not holding:
        return dest / ELSEWHERE / os.path.basename(path)
    root = max(holding, key=len)
    if path == root:  # a file given to `index` itself
        return dest / os.path.basename(path)
    return dest / path[len(root.rstrip(os.sep)) + 1 :]


def _is_byte_copy(member: Member, keeper: Member) -> bool:
    same = member.item.content_hash and member.item.content_hash == keeper.item.content_hash
    return bool(same) and member.item.page == keeper.item.page


def _why_not(member: Member, group: Group, tier: str, named: set[str]) -> str | None:
    """Why ``member`` stays by the rules alone (the files on disk not looked at yet)."""
    item = member.item
    if member.keeper:
        return "keeper"
    if item.time is not None:
        return "a video frame: videos are not moved"
    if item.page:
        return "a page of a PDF: a PDF moves only whole, when every page is a copy of another PDF's (a document group)"
    if group.tier == "revision" and "revision" not in named:
        return "a revision, not a copy: name the tier (--by revision) to move it"
    if tier not in MOVED_UNNAMED and tier not in named:
        return f"a {tier} match: name the tier (--by {tier}) to move it"
    return None


#: Evidence strong enough to move a copy without the user naming its tier: the same bytes, the same
#: picture by its perceptual code confirmed by its colour, detail and text, the same PDF page by page.
MOVED_UNNAMED = frozenset({"exact", "perceptual", "document"})


def plan_moves(
    store: IndexStore, groups: Sequence[Group], dest: str | os.PathLike[str], tiers: Iterable[str] = ()
) -> MovePlan:
    """Every member of ``groups``: where it would go under ``dest``, or why it stays.

    ``tiers``: the tiers the user named (``--by``); weaker evidence than :data:`MOVED_UNNAMED` moves
    only when named. Nothing on disk changes."""
    folder = destination(store, dest)
    named, roots = set(tiers), store.roots
    kept = {m.item.path for g in groups for m in g.members if m.keeper}
    plan = MovePlan(str(folder))
    targets: set[Path] = set()
    sources: set[str] = set()
    for group in groups:
        keeper = group.keeper
        for m in group.members:
            path = m.item.path
            own = group.tier if group.tier in ("document", "revision") else m.tier
            tier = "exact" if not m.keeper and _is_byte_copy(m, keeper) else own
            target = None if m.keeper else target_of(path, roots, folder)
            why = _why_not(m, group, tier, named)
            if why is None and path in kept:
                why = "holds a kept item of another group"
            elif why is None and path in sources:
                why = "planned already, in another group"
            elif why is None and not os.path.isfile(path):
                why = "no longer there"
            elif why is None and target is not None and (os.path.lexists(target) or target in targets):
                why = f"{target} exists (or another file goes there): not overwritten"
            if why is None and target is not None:
                targets.add(target)
                sources.add(path)
            shown = str(target) if target is not None and why is None else None
            plan.entries.append(PlannedMove(path, shown, group.key, tier, why, m.item.page, m.item.time))
    return plan


def _log_line(out: IO[str], entry: dict[str, Any]) -> None:
    """One line, on disk before the caller goes on (crash-safe: the move comes after)."""
    out.write(json.dumps(entry) + "\n")
    out.flush()
    os.fsync(out.fileno())


def move_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move one file, never overwriting ``target`` (``FileExistsError`` if it exists): a hard link
    then an unlink where the file system allows it, else a check then a copying move."""
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except (OSError, NotImplementedError):  # another file system, or no hard links there
        if os.path.lexists(target):
            raise FileExistsError(f"{target} exists") from None
        shutil.move(os.fspath(source), os.fspath(target))
        return
    os.unlink(source)


def _new_log(dest: Path) -> IO[str]:
    """A new log file in ``dest``, named by the time (never one that exists), open for writing."""
    stem = f"clipsearch-moves-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for n in range(1, 1000):
        try:
            return open(dest / (f"{stem}.jsonl" if n == 1 else f"{stem}-{n}.jsonl"), "x", encoding="utf-8")
        except FileExistsError:
            continue
    raise UsageError(f"{dest} holds too many move logs named {stem}*")


def apply_moves(store: IndexStore, plan: MovePlan) -> MoveReport:
    """Move the files ``plan`` moves, logging each before it moves; their items leave the catalog
    (all of a file's items: every page of a PDF). The caller holds the writer lock."""
    dest = destination(store, plan.dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = _new_log(dest)
    report = MoveReport(out.name, 0)
    removed: list[int] = []
    try:
        with out:
            _log_line(out, {"clipsearch_moves": LOG_FORMAT, "index": store.location.name,
                            "index_folder": str(store.path), "dest": str(dest)})  # fmt: skip
            for entry in plan.moving:
                if entry.target is None or not os.path.isfile(entry.source):
                    report.problems.append(f"{entry.source}: not moved (no longer there)")
                    continue
                ids = [r.id for r in store.catalog.find_path(entry.source)]
                _log_line(out, {"from": entry.source, "to": entry.target, "group": entry.group, "tier": entry.tier})
                try:
                    Path(entry.target).parent.mkdir(parents=True, exist_ok=True)
                    move_file(entry.source, entry.target)
                except OSError as err:
                    report.problems.append(f"{entry.source}: not moved ({err})")
                    continue
                removed.extend(ids)
                report.moved += 1
    finally:
        if removed:
            store.catalog.commit_batch(remove=removed)
            store.vectors()
            store.save_vectors()
    return report


def read_log(log: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A move log's header (None in a log that names no index) and its moves, in order."""
    path = Path(log)
    if not path.is_file():
        raise UsageError(f"no such move log: {log}")
    header, moves = None, []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise UsageError(f"{log}, line {n}: not a clipsearch move log") from None
        if "clipsearch_moves" in entry:
            header = entry
        elif "from" in entry and "to" in entry:
            moves.append(entry)
        else:
            raise UsageError(f"{log}, line {n}: not a clipsearch move log")
    return header, moves


def undo_moves(store: IndexStore, log: str | os.PathLike[str]) -> tuple[int, list[str], list[str]]:
    """Move the files of an :func:`apply_moves` log back, last first; returns (files moved back,
    paths to index again, problems). A log written for another index is refused before anything
    moves; the paths to index again are those moved back and those the log names that never left
    (a crash between a log line and its move), but of a log that names no index only those inside
    this index's folders."""
    header, moves = read_log(log)
    if header is not None and os.path.realpath(header.get("index_folder", "")) != os.path.realpath(store.path):
        raise UsageError(
            f"{log} records moves from index {header.get('index')!r} ({header.get('index_folder')}), "
            f"not {store.location.name!r}: undo it with --index {header.get('index')} (and its --home)"
        )
    restored, again, problems = 0, [], []
    for entry in reversed(moves):
        source, target = entry["to"], entry["from"]
        if not os.path.lexists(source):
            if os.path.lexists(target):  # logged, but the move never happened (or was undone already)
                again.append(target)
            else:
                problems.append(f"{source}: no longer there")
            continue
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            move_file(source, target)
        except FileExistsError:
            problems.append(f"{target}: already exists, not overwritten")
            continue
        except OSError as err:
            problems.append(f"{target}: not restored ({err})")
            continue
        restored += 1
        again.append(target)
    if header is None:
        outside = {p for p in again if not is_under(p, store.roots)}
        problems += [f"{p}: restored, not indexed (in none of this index's folders)" for p in sorted(outside)]
        again = [p for p in again if p not in outside]
    return restored, again, problems
