"""The commit stage: changes gathered and committed to the catalog in bounded transactions.

One transaction is what a crash can cost, so it is bounded twice: ``commit_every`` changes, or
``commit_seconds`` of work, whichever comes first (a slow model or a slow disk must not make a kill
lose minutes). After each one that added or re-embedded items the hook sees their ids (the
categories label them as they land).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..store.catalog import Enrich, Move, NewItem, Replace, Skip
from ..store.folder import IndexStore

#: Called after each committed batch with the ids added or re-embedded (e.g. to label them).
CommitHook = Callable[[list[int]], None]


class Batcher:
    """Collects changes and commits them to the catalog in transactions of ``commit_every``."""

    def __init__(
        self, store: IndexStore, commit_every: int, on_commit: CommitHook | None, commit_seconds: float = 5.0
    ) -> None:
        self.store = store
        self.commit_every = commit_every
        self.commit_seconds = commit_seconds
        self.on_commit = on_commit
        self._reset()

    def _reset(self) -> None:
        self.since = time.monotonic()  # when the oldest change not yet committed was made, at most
        self.add: list[NewItem] = []
        self.replace: list[Replace] = []
        self.move: list[Move] = []
        self.remove: list[int] = []
        self.skip: list[Skip] = []
        self.unskip: list[str] = []
        self.enrich: list[Enrich] = []

    def pending(self) -> int:
        return len(self.add) + len(self.replace) + len(self.move) + len(self.remove) + len(self.skip) + len(self.enrich)

    def overdue(self) -> bool:
        """Whether the last commit is ``commit_seconds`` old: work waiting for the model should be
        embedded and committed now, in a batch short of full."""
        return time.monotonic() - self.since >= self.commit_seconds

    def maybe_commit(self) -> None:
        pending = self.pending()
        if pending >= self.commit_every or (pending and time.monotonic() - self.since >= self.commit_seconds):
            self.commit()

    def commit(self) -> None:
        if not (self.pending() or self.unskip):
            return
        catalog = self.store.catalog
        seq = catalog.commit_batch(
            add=self.add,
            replace=self.replace,
            move=self.move,
            remove=self.remove,
            skip=self.skip,
            unskip=self.unskip,
            enrich=self.enrich,
        )
        changed = bool(self.add or self.replace)
        self._reset()
        if changed and self.on_commit is not None:
            self.on_commit(catalog.ids_at_seq(seq))
