"""clipsearch: semantic image search over your own folders with CLIP.

The public API is re-exported here (and pinned by a test of ``__all__``); the modules behind it
are private to the package and may move. Names are imported on first use (PEP 562), so
``import clipsearch`` stays cheap: a cold text query must not pay for SQLAlchemy, FAISS or PyTorch
before it knows it needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import (
    AddressInUseError,
    CatalogDamagedError,
    CatalogUnavailableError,
    ClipsearchError,
    ExportError,
    ImageLoadError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexReadOnlyError,
    ModelError,
    ModelMismatchError,
    ModelUnavailableError,
    StorageFullError,
    UsageError,
)

#: What a user of the library needs: the index and what it is given and answers, the settings
#: objects, the seam for a text-reading engine of one's own (``OcrPool``, ``TextReader``), and
#: every error it raises (each catchable by its own name). Engines, stores and
#: runtimes stay behind ``Index`` (their modules are private to the package and may move).
_LAZY = {
    "api": ".api",
    "Index": ".front.index",
    "Answer": ".front.asking",
    "OcrPool": ".ingest.ocrpool",
    "TextReader": ".ingest.textreader",
    "ReaderAbilities": ".ingest.textreader",
    "Filters": ".query.filters",
    "SearchResult": ".query.search",
    "IndexOptions": ".ingest.options",
    "IndexReport": ".ingest.options",
    "IndexSettings": ".front.settings",
    "WatchSettings": ".ingest.watch",
    "IndexLocation": ".config",
    "ModelChoice": ".config",
    "RuntimeChoice": ".config",
    "default_home": ".config",
    "DEFAULT_MODEL": ".models.registry",
}

__all__ = [
    "DEFAULT_MODEL",
    "AddressInUseError",
    "Answer",
    "CatalogDamagedError",
    "CatalogUnavailableError",
    "ClipsearchError",
    "ExportError",
    "Filters",
    "ImageLoadError",
    "Index",
    "IndexCorruptError",
    "IndexLocation",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexOptions",
    "IndexReadOnlyError",
    "IndexReport",
    "IndexSettings",
    "ModelChoice",
    "ModelError",
    "ModelMismatchError",
    "ModelUnavailableError",
    "OcrPool",
    "ReaderAbilities",
    "RuntimeChoice",
    "SearchResult",
    "StorageFullError",
    "TextReader",
    "UsageError",
    "WatchSettings",
    "__version__",
    "api",
    "default_home",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clipsearch' has no attribute {name!r}")
    value = importlib.import_module(module, __name__)
    if name != "api":
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
