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
    CatalogUnavailableError,
    ClipsearchError,
    ImageLoadError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    ModelError,
    ModelMismatchError,
    ModelUnavailableError,
    UsageError,
)

_LAZY = {
    "api": ".api",
    "Index": ".front.index",
    "Filters": ".query.filters",
    "WatchSettings": ".ingest.watch",
    "IndexSettings": ".front.settings",
    "Catalog": ".store.catalog",
    "IndexLocation": ".config",
    "ModelChoice": ".config",
    "RuntimeChoice": ".config",
    "default_home": ".config",
    "Encoder": ".models.encoder",
    "TorchEncoder": ".models.torch_runtime",
    "load_encoder": ".models.runtimes",
    "OnnxEncoder": ".models.onnx_runtime",
    "load_image": ".ingest.images",
    "IndexOptions": ".ingest.options",
    "IndexReport": ".ingest.options",
    "index_paths": ".ingest.indexer",
    "DEFAULT_MODEL": ".models.registry",
    "ModelInfo": ".models.registry",
    "ModelRef": ".models.registry",
    "resolve_model_ref": ".models.registry",
    "QueryTerm": ".query.search",
    "Searcher": ".query.search",
    "SearchResult": ".query.search",
    "IndexStore": ".store.folder",
    "VectorIndex": ".store.vectors",
}

__all__ = [
    "DEFAULT_MODEL",
    "Catalog",
    "CatalogUnavailableError",
    "ClipsearchError",
    "Encoder",
    "Filters",
    "ImageLoadError",
    "Index",
    "IndexCorruptError",
    "IndexLocation",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexOptions",
    "IndexReport",
    "IndexSettings",
    "IndexStore",
    "ModelChoice",
    "ModelError",
    "ModelInfo",
    "ModelMismatchError",
    "ModelRef",
    "ModelUnavailableError",
    "OnnxEncoder",
    "QueryTerm",
    "RuntimeChoice",
    "SearchResult",
    "Searcher",
    "TorchEncoder",
    "UsageError",
    "VectorIndex",
    "WatchSettings",
    "__version__",
    "api",
    "default_home",
    "index_paths",
    "load_encoder",
    "load_image",
    "resolve_model_ref",
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
