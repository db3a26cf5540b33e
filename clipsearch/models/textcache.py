"""The cache of text embeddings: the last texts in memory, every text on disk, one per exported
model and precision (the only one: the query path, the prefetch and the categories all meet it
through the encoder).

Category prompts (78 texts for the built-in doctype facet) and repeated queries are embedded once
per machine instead of once per run: a cached query never loads ONNX Runtime or the tokenizer.
It lives next to the exported model in the user cache folder (``onnx_export.cache_root``), so it
can be deleted at any time; it is a cache, not index metadata, hence plain ``sqlite3``. Failures
(read-only folder, a locked file) only mean a miss.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: Texts longer than this are not worth keeping (they are rare, and keys are stored whole).
MAX_TEXT_CHARS = 2000
#: Texts kept in memory at most (a server's recent queries; the built-in categories' 78 prompts).
RECENT = 4096


class TextCache:
    """``get`` what is known, ``put`` what was computed; vectors are float32 rows of ``dim``.
    ``path``: the file on disk (None: memory only, for a model with no export folder). Callers
    that share one (threads of a server) hold their own lock around get-compute-put."""

    def __init__(self, path: str | Path | None, dim: int) -> None:
        self.path = Path(path) if path is not None else None
        self.dim = dim
        self._recent: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = path is None

    def _db(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                conn = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS texts (text TEXT PRIMARY KEY, vector BLOB NOT NULL)")
                self._conn = conn
            except sqlite3.Error:
                self._broken = True
        return self._conn

    def vectors(
        self, texts: Sequence[str], language: str | None, embed: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        """Unit vectors for ``texts`` in ``language``: those embedded before (any run, any index)
        from here, the others by ``embed`` (a list of texts -> their unit rows) and kept. One
        caller at a time: a prefetch on another thread may be embedding these very texts."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        keys = {t: t if not language else f"{t}\x00{language}" for t in texts}  # a language set is part of the key
        with self._lock:
            known = self.get(list(set(keys.values())))
            missing = [t for t in keys if keys[t] not in known]
            if missing:
                fresh = {keys[t]: v for t, v in zip(missing, embed(missing), strict=True)}
                self.put(fresh)
                known.update(fresh)
        return np.stack([known[keys[t]] for t in texts]).astype(np.float32)

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found = {t: self._recent[t] for t in texts if t in self._recent}
        db = self._db()
        wanted = sorted({t for t in texts if len(t) <= MAX_TEXT_CHARS and t not in found})
        if db is None or not wanted:
            return found
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for text, blob in db.execute(f"SELECT text, vector FROM texts WHERE text IN ({marks})", chunk):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (self.dim,):
                        found[text] = vec
        except sqlite3.Error:
            pass
        self._remember(found)
        return found

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        if len(self._recent) + len(vectors) > RECENT:
            self._recent.clear()
        self._recent.update(vectors)

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        self._remember(vectors)
        db = self._db()
        rows = [(t, np.asarray(v, np.float32).tobytes()) for t, v in vectors.items() if len(t) <= MAX_TEXT_CHARS]
        if db is None or not rows:
            return
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO texts (text, vector) VALUES (?, ?)", rows)
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
