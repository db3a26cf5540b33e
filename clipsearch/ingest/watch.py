"""Watching folders: which parts of them to index again, once a burst of changes has settled.

Real file-system events come from ``watchdog`` (inotify, FSEvents, ReadDirectoryChangesW); where
events don't arrive (network mounts, some containers) ``poll=True`` uses its polling observer. Bursts
are debounced: a change is handled once nothing has happened under the watched folders for
``quiet`` seconds, and a file still being written (its size or mtime moving) waits until it holds
still for ``settle`` seconds, so a large copy is indexed once, complete. What is handed back is the
smallest set of paths to index again: changed files themselves, and for deletions and moves the
folder that held them (the indexer drops what is gone under it, and recognises a moved file by its
content).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .options import IndexOptions
from .scan import indexable, is_under, passed_over


@dataclass(frozen=True)
class WatchSettings:
    #: Seconds without any event before a burst is handled.
    quiet: float = 1.0
    #: Seconds a changed file's size and mtime must hold still (a file being written).
    settle: float = 0.5
    #: A burst is handled after this long even if events keep coming.
    longest: float = 30.0
    #: Poll the folders instead of listening for events (network mounts).
    poll: bool = False
    #: Polling interval, seconds.
    interval: float = 1.0


class Watcher:
    """Collects file-system events under ``roots`` and yields the paths to index again."""

    def __init__(self, roots: list[str], settings: WatchSettings, options: IndexOptions, ignore: list[str]) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self.settings = settings
        self.options = options
        self.ignore = [os.path.abspath(i) for i in ignore]
        self._lock = threading.Lock()
        self._changed: set[str] = set()  # files created or modified
        self._gone: set[str] = set()  # paths deleted, or moved away
        self._first = self._last = 0.0

    # ------------------------------------------------------------------ events (observer thread)
    def note(self, kind: str, path: str, dest: str | None = None) -> None:
        """Record one event: ``kind`` is watchdog's event type; ``dest`` the new path of a move."""
        now = time.monotonic()
        with self._lock:
            if kind in ("deleted", "moved"):
                if self._wanted(path, directory_ok=True):
                    self._gone.add(path)
                if dest is not None and self._wanted(dest, directory_ok=True):
                    self._changed.add(dest)
            elif kind == "modified" and os.path.isdir(path):
                return  # a folder's own mtime moved: the files inside report themselves
            elif self._wanted(path):
                self._changed.add(path)
            else:
                return
            self._first = self._first or now
            self._last = now

    def _wanted(self, path: str, directory_ok: bool = False) -> bool:
        """Whether ``index`` would look at ``path``: under a root, not hidden or excluded there (the
        scanner's own rule), and a picture, PDF or video (or a folder)."""
        if is_under(path, self.ignore):
            return False
        root = next((r for r in self.roots if is_under(path, [r])), None)
        opts = self.options
        if root is None or passed_over(path, root, opts.exclude, opts.include_hidden):
            return False
        return indexable(os.path.basename(path)) or directory_ok or os.path.isdir(path)

    # ------------------------------------------------------------------ batches (caller's thread)
    def __enter__(self) -> Watcher:
        """Start listening: before the catch-up run, so nothing changed during it goes unseen."""
        self._running = self._observer()
        self._running.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.stop()
        self._running.join(timeout=5)

    def batches(self, stop: threading.Event) -> Iterator[list[str]]:
        """Paths to index again, one list per settled burst, until ``stop`` is set (inside ``with``)."""
        while not stop.wait(0.1):
            batch = self._settled()
            if batch:
                yield batch

    def _settled(self) -> list[str]:
        now = time.monotonic()
        s = self.settings
        with self._lock:
            if not (self._changed or self._gone):
                return []
            if now - self._last < s.quiet and now - self._first < s.longest:
                return []
            changed, gone = set(self._changed), set(self._gone)
        if not _still(changed, s.settle) and now - self._first < s.longest:
            return []  # still being written: wait for the next quiet spell
        with self._lock:
            self._changed -= changed
            self._gone -= gone
            self._first = self._last if (self._changed or self._gone) else 0.0
        return _paths(changed, gone, self.roots)

    def _observer(self) -> Any:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                dest = getattr(event, "dest_path", None) or None
                watcher.note(event.event_type, os.fsdecode(event.src_path), dest and os.fsdecode(dest))

        observer = PollingObserver(timeout=self.settings.interval) if self.settings.poll else Observer()
        for root in self.roots:
            observer.schedule(Handler(), root if os.path.isdir(root) else os.path.dirname(root), recursive=True)
        return observer


def _still(paths: set[str], settle: float) -> bool:
    """Whether every existing file in ``paths`` keeps its size and mtime over ``settle`` seconds."""

    def state() -> dict[str, tuple[int, int]]:
        out = {}
        for p in paths:
            try:
                st = os.stat(p)
                out[p] = (st.st_size, st.st_mtime_ns)
            except OSError:
                out[p] = (-1, -1)
        return out

    before = state()
    time.sleep(settle)
    return state() == before


def _paths(changed: set[str], gone: set[str], roots: list[str]) -> list[str]:
    """Existing changed paths, and the nearest existing folder of each gone one, without repeats
    (a path under another one in the list is covered by it)."""
    out = {p for p in changed if os.path.exists(p)}
    for path in gone:
        folder = os.path.dirname(path)
        while folder and not os.path.isdir(folder):
            folder = os.path.dirname(folder)
        if any(folder == r or folder.startswith(r + os.sep) for r in roots):
            out.add(folder)
        else:  # a root itself went away: its items go with it at the next full run
            out.update(r for r in roots if os.path.exists(r))
    ordered = sorted(out)
    return [p for p in ordered if not any(p != q and p.startswith(q + os.sep) for q in ordered)]
