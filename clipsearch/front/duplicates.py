"""``ix.duplicates``: the duplicates of one open :class:`~clipsearch.front.index.Index`: find
groups, dismiss, move, undo, report. It stands on the index's store, its query lock, its writer
lock and its ``add`` (an undo indexes the restored files again).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import contextlib
    import threading

    from ..query.duplicates import Group
    from ..query.filters import Filters
    from ..query.moves import MovePlan, MoveReport
    from ..store.folder import IndexStore


class Owner(Protocol):
    """What of its :class:`~.index.Index` the view stands on."""

    store: IndexStore
    _query_lock: threading.RLock

    def _writing(self) -> contextlib.AbstractContextManager[None]: ...

    def add(self, paths: Iterable[str | os.PathLike[str]]) -> object: ...


class DuplicatesView:
    """Near-duplicate groups of one open index (see ``query/duplicates.py``): ``ix.duplicates``."""

    def __init__(self, ix: Owner) -> None:
        self._ix = ix

    def find(
        self, *, by: Sequence[str] | None = None, max_distance: int | None = None,
        min_similarity: float | None = None, filters: Filters | None = None,
    ) -> list[Group]:  # fmt: skip
        """Groups of the same picture saved several times, best evidence first; ``by``: the tiers
        (exact, raw, perceptual, semantic; default: all that apply to the index)."""
        from ..config import DEFAULT_MAX_DISTANCE
        from ..query.duplicates import find_duplicates

        distance = DEFAULT_MAX_DISTANCE if max_distance is None else max_distance
        with self._ix._query_lock:
            groups = find_duplicates(self._ix.store, by=by or None, max_distance=distance,
                                     min_similarity=min_similarity, filters=filters)  # fmt: skip
        return _still_there(groups)

    def dismiss(self, group: Group) -> None:
        """Remember that ``group`` is not duplicates: it is not reported again."""
        from ..query.duplicates import dismiss

        with self._ix._writing():
            dismiss(self._ix.store, group)

    def plan(self, groups: Sequence[Group], dest: str | os.PathLike[str], *, tiers: Iterable[str] = ()) -> MovePlan:
        """What :meth:`move` would do with ``groups``: each member's target under ``dest``
        (its path relative to the indexed folder holding it), or why it stays. ``tiers``: the tiers
        the user named; with none, exact, perceptual and document copies move, and revisions and
        look-alikes by meaning stay (``query/moves.MOVED_UNNAMED``)."""
        from ..query.moves import plan_moves

        with self._ix._query_lock:
            return plan_moves(self._ix.store, groups, dest, tiers)

    def move(self, plan: MovePlan) -> MoveReport:
        """Make the moves of ``plan`` (from :meth:`plan`), each logged before it happens; the
        moved files' items leave the index. The report names the log :meth:`undo` takes."""
        from ..query.moves import apply_moves

        with self._ix._writing():
            return apply_moves(self._ix.store, plan)

    def undo(self, log: str | os.PathLike[str]) -> tuple[int, list[str]]:
        """Put back what :meth:`move` moved and index those files again, so the index
        counts them as before; returns (files restored, problems). A log from another index is
        refused (``UsageError``) before anything moves."""
        from ..query.moves import undo_moves

        with self._ix._writing():
            restored, again, problems = undo_moves(self._ix.store, log)
            if again:
                self._ix.add(again)
        return restored, problems

    @staticmethod
    def moves_in(folder: str | os.PathLike[str], limit: int = 20) -> list[dict[str, object]]:
        """The move logs in ``folder`` that can still be undone (some file is still where it was
        moved to), newest first: ``{"log": name, "files": still moved, "time": when written}``."""
        from ..errors import UsageError
        from ..query.moves import read_log

        logs = sorted(Path(folder).glob("clipsearch-moves-*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
        out: list[dict[str, object]] = []
        for log in logs[:limit]:
            try:
                _, moves = read_log(log)
            except UsageError:  # not ours, or damaged: not offered
                continue
            waiting = sum(os.path.lexists(m["to"]) for m in moves)
            if waiting:
                out.append({"log": log.name, "files": waiting, "time": int(log.stat().st_mtime)})
        return out

    @staticmethod
    def write(groups: Sequence[Group], *, csv: str | None = None, html: str | None = None) -> None:
        """The groups as a CSV file and an HTML report with thumbnails."""
        from ..errors import UsageError
        from ..query import reports

        for path, write in ((csv, reports.write_csv), (html, reports.write_html)):
            if path:
                try:
                    write(path, groups)
                except OSError as err:
                    raise UsageError(f"cannot write {path}: {err.strerror or err}") from err


def _still_there(groups: list[Group]) -> list[Group]:
    """The groups as the files are now: a member whose file was deleted since it was indexed is
    left out, and so is a group whose keeper is gone (what it was compared with is not there: the
    next ``index`` forgets the file and the rest group again) or that has one file left, so a move
    never takes away the last copy. Files all missing (a drive not mounted) leave a group as it is."""
    import dataclasses

    out = []
    for group in groups:
        here = [m for m in group.members if os.path.exists(m.item.path)]
        if len(here) == len(group.members) or not here:
            out.append(group)
        elif len(here) >= 2 and any(m.keeper for m in here):
            out.append(dataclasses.replace(group, members=here))
    return out
