"""The duplicates part of :class:`~clipsearch.front.index.Index`: find groups, dismiss, move, undo, report.

A mixin so that ``Index`` stays one readable door; it uses only ``self.store``, ``self._query_lock``
and ``self._writing()``, which ``Index`` provides.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..query.duplicates import Group
    from ..query.filters import Filters
    from ..store.folder import IndexStore


class DuplicatesMixin:
    """Near-duplicate groups of one open index (see ``query/duplicates.py``)."""

    store: IndexStore
    _query_lock: threading.RLock

    def _writing(self) -> contextlib.AbstractContextManager[None]:  # provided by Index
        raise NotImplementedError

    def duplicates(
        self, *, by: Sequence[str] | None = None, max_distance: int | None = None,
        min_similarity: float | None = None, filters: Filters | None = None,
    ) -> list[Group]:  # fmt: skip
        """Groups of the same picture saved several times, best evidence first; ``by``: the tiers
        (exact, raw, perceptual, semantic; default: all that apply to the index)."""
        from ..config import DEFAULT_MAX_DISTANCE
        from ..query.duplicates import find_duplicates

        distance = DEFAULT_MAX_DISTANCE if max_distance is None else max_distance
        with self._query_lock:
            return find_duplicates(self.store, by=by or None, max_distance=distance, min_similarity=min_similarity,
                                   filters=filters)  # fmt: skip

    def dismiss(self, group: Group) -> None:
        """Remember that ``group`` is not duplicates: it is not reported again."""
        from ..query.duplicates import dismiss

        with self._writing():
            dismiss(self.store, group)

    def move_duplicates(self, groups: Sequence[Group], dest: str | os.PathLike[str]) -> tuple[str, int]:
        """Move all but the keeper of each group under ``dest``; returns (the undo log, files moved)."""
        from ..query.duplicates import move_duplicates

        with self._writing():
            log, moved = move_duplicates(self.store, groups, dest)
        return str(log), moved

    @staticmethod
    def undo_moves(log: str | os.PathLike[str]) -> tuple[int, list[str]]:
        """Put back what a :meth:`move_duplicates` moved; returns (files restored, problems)."""
        from ..query.duplicates import undo_moves

        return undo_moves(log)

    @staticmethod
    def write_duplicates(groups: Sequence[Group], *, csv: str | None = None, html: str | None = None) -> None:
        """The groups as a CSV file and an HTML report with thumbnails."""
        from ..query import reports

        if csv:
            reports.write_csv(csv, groups)
        if html:
            reports.write_html(html, groups)
