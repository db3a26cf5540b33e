"""An index folder's ``manifest.json``, typed: the model's facts, where the catalog lives, the
folders indexed, how images are embedded, and which FAISS file holds which catalog ``seq``.

Every method that changes the manifest saves it (atomically), so no change depends on some later
call happening to write the file. The one exception is the vectors section during a rebuild:
:meth:`Manifest.vectors_changed` records a new file and type, and :meth:`Manifest.synced` writes
them together with the ``seq`` the new file holds, after that file is on disk (the order is what
keeps catalog and vector index in agreement after a crash).

``query/prefetch.py`` reads the file directly (a cold query must not import this module's model
registry before it starts); it only reads.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .._version import __version__
from ..atomic import write_json_atomic
from ..errors import IndexCorruptError
from ..models.registry import ModelInfo

MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
FORMAT_VERSION = 1
#: The precision of an index whose manifest says none (made before precisions were recorded).
DEFAULT_PRECISION = "fp32"


class Manifest:
    """One index's manifest; read with :meth:`read`, made with :meth:`new`."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self._data = data
        self.model = ModelInfo.from_dict(data["model"])

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(path, data)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise IndexCorruptError(f"cannot read {path}: {err}") from err
        return manifest

    @classmethod
    def new(cls, path: Path, model: ModelInfo, index_type: str, default_type: str, catalog: str | None) -> Manifest:
        """A manifest for a new index (not saved until :meth:`save`: the folder may not exist yet)."""
        data: dict[str, Any] = {
            "format": FORMAT_VERSION, "created_at": time.time(), "clipsearch_version": __version__,
            "model": model.to_dict(),
            "vectors": {"index_type": default_type, "requested": index_type, "synced_seq": 0, "file": VECTORS},
        }  # fmt: skip
        if catalog is not None:
            data["catalog"] = catalog
        return cls(path, data)

    def save(self) -> None:
        write_json_atomic(self.path, self._data)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))

    # ------------------------------------------------------------------ facts
    @property
    def format(self) -> int:
        return int(self._data.get("format", 0))

    @property
    def catalog(self) -> str | None:
        """A server catalog's URL without its password; None: SQLite in the folder."""
        return self._data.get("catalog")

    @property
    def created_at(self) -> float | None:
        return self._data.get("created_at")

    @property
    def updated_at(self) -> float | None:
        return self._data.get("updated_at")

    @property
    def roots(self) -> list[str]:
        return list(self._data.get("roots", []))

    @property
    def encoding(self) -> dict[str, Any]:
        """How images were embedded last: precision, runtime, group, and why."""
        return dict(self._data.get("encoding", {"precision": DEFAULT_PRECISION}))

    @property
    def precision(self) -> str:
        return str(self._data.get("encoding", {}).get("precision", DEFAULT_PRECISION))

    # ------------------------------------------------------------------ vectors
    def _vectors(self) -> dict[str, Any]:
        return self._data["vectors"]

    @property
    def index_type(self) -> str:
        return str(self._vectors()["index_type"])

    @property
    def requested_index_type(self) -> str:
        return str(self._vectors().get("requested", "auto"))

    @property
    def vectors_file(self) -> str:
        return str(self._vectors().get("file", VECTORS))

    @property
    def sharded(self) -> str | None:
        """The folder of a sharded index's big files, relative to the index folder."""
        return self._vectors().get("sharded")

    @property
    def synced_seq(self) -> int:
        """The catalog ``seq`` the FAISS file on disk holds."""
        return int(self._vectors().get("synced_seq", 0))

    @property
    def nprobe(self) -> int | None:
        return self._vectors().get("nprobe")

    @property
    def trained_on(self) -> int | None:
        value = self._vectors().get("trained_on")
        return int(value) if value is not None else None

    @property
    def tuned_recall_at_10(self) -> float | None:
        return self._vectors().get("tuned_recall_at_10")

    def vectors_info(self) -> dict[str, Any]:
        """The vectors section as it stands (a copy), for ``status`` and tests."""
        return dict(self._vectors())

    # ------------------------------------------------------------------ changes, each saved
    def set_encoding(self, encoding: dict[str, Any]) -> None:
        if self._data.get("encoding") != encoding:
            self._data["encoding"] = dict(encoding)
            self.save()

    def set_requested_index_type(self, index_type: str) -> None:
        if self.requested_index_type != index_type:
            self._vectors()["requested"] = index_type
            self.save()

    def set_catalog(self, url: str) -> None:
        """The catalog moved to this server (``move-catalog``): writing this is the move's commit point."""
        self._data["catalog"] = url
        self.save()

    def add_roots(self, paths: list[str]) -> None:
        """Add ``paths`` (absolute) to :attr:`roots`; one inside a known root adds nothing, a known
        root inside a new one is replaced by it."""
        roots = self.roots
        new = [p for p in paths if not any(p == r or p.startswith(r.rstrip(os.sep) + os.sep) for r in roots)]
        if not new:
            return
        kept = [r for r in roots if not any(r.startswith(p.rstrip(os.sep) + os.sep) for p in new)]
        self._data["roots"] = sorted({*kept, *new})
        self.save()

    def vectors_changed(self, *, drop: tuple[str, ...] = (), **fields: Any) -> None:
        """A new vector index in memory (type, file, sharded folder, tuning): recorded, and saved by
        :meth:`synced` once its file is written."""
        info = self._vectors()
        for key in drop:
            info.pop(key, None)
        info.update(fields)

    def synced(self, seq: int, ntotal: int) -> None:
        """The FAISS file now on disk holds the catalog up to ``seq``: say so (after writing it)."""
        self._vectors().update(synced_seq=seq, ntotal=ntotal)
        self._data["updated_at"] = time.time()
        self.save()
