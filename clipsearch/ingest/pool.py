"""A pool of daemon threads whose tasks have a time limit: a file or a picture that takes too long
is given up on (its thread left to finish on its own) and the run goes on.

Used by the decode stage (``decode.py``) and the text pass (``textpass.py``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any


class Task:
    """One call run by :class:`DaemonPool`; ``result`` waits at most ``limit`` s after it started."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.started: float | None = None
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        self.started = time.monotonic()
        try:
            self.value = self.fn(*self.args)
        except BaseException as err:  # re-raised on the caller's thread (prepare itself catches file faults)
            self.error = err
        self.done.set()

    def result(self, limit: float | None) -> Any:
        """The call's result, or None when it ran past ``limit`` seconds."""
        while not self.done.wait(0.25):
            if limit and self.started is not None and time.monotonic() - self.started > limit:
                return None
        if self.error is not None:
            raise self.error
        return self.value


class DaemonPool:
    """A fixed number of daemon threads taking tasks in order. Not a ThreadPoolExecutor: its threads
    are joined at interpreter exit, so one decoder stuck on a hostile file would hold the process.

    ``initializer`` runs on each thread before its first task (an OCR engine loading), so a task's
    time limit counts the task alone."""

    def __init__(
        self, workers: int, name: str = "clipsearch-load", initializer: Callable[[], Any] | None = None
    ) -> None:
        self._tasks: SimpleQueue[Task | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._name, self._initializer = name, initializer
        for _ in range(workers):
            self._start()

    def _start(self) -> None:
        thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        if self._initializer is not None:
            with contextlib.suppress(Exception):  # the first task meets the same fault, and says it
                self._initializer()
        while (task := self._tasks.get()) is not None:
            task.run()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        task = Task(fn, args)
        self._tasks.put(task)
        return task

    def replace_stuck(self) -> None:
        """A thread is stuck in a task given up on: start another so the pool keeps its width."""
        self._start()

    def shutdown(self, wait: float | None = 0.0) -> None:
        """Drop the tasks not started; let each thread end after its current one, waiting up to
        ``wait`` seconds for those still busy (None: until they end; a native library torn down under
        a running thread at interpreter exit aborts the process, as ONNX Runtime does)."""
        while True:
            try:
                self._tasks.get_nowait()
            except Empty:
                break
        for _ in self._threads:
            self._tasks.put(None)
        if wait is None:
            for thread in self._threads:
                thread.join()
            return
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
