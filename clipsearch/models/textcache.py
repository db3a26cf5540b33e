"""A persistent cache of text embeddings, one per exported model and precision.

Category prompts (78 texts for the built-in doctype facet) and repeated queries are embedded once
per machine instead of once per run: a cached query never loads ONNX Runtime or the tokenizer.
It lives next to the exported model in the user cache folder (``onnx_export.cache_root``), so it
can be deleted at any time; it is a cache, not index metadata, hence plain ``sqlite3``. Failures
(read-only folder, a locked file) only mean a miss.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Texts longer than this are not worth keeping (they are rare, and keys are stored whole).
MAX_TEXT_CHARS = 2000


class TextCache:
    """``get`` what is known, ``put`` what was computed; vectors are float32 rows of ``dim``."""

    def __init__(self, path: str | Path, dim: int) -> None:
        self.path = Path(path)
        self.dim = dim
        self._conn: sqlite3.Connection | None = None
        self._broken = False

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

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        db = self._db()
        wanted = sorted({t for t in texts if len(t) <= MAX_TEXT_CHARS})
        if db is None or not wanted:
            return {}
        found: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for text, blob in db.execute(f"SELECT text, vector FROM texts WHERE text IN ({marks})", chunk):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (self.dim,):
                        found[text] = vec
        except sqlite3.Error:
            return found
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
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
