"""clipsearch: semantic image search over your own folders with CLIP.

The public API is re-exported here (and pinned by a test of ``__all__``); the modules behind it
are private to the package and may move.
"""

from . import api
from ._version import __version__
from .catalog import Catalog
from .config import IndexLocation, default_home
from .embedding import Encoder, TorchEncoder, load_encoder
from .errors import (
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
from .images import load_image
from .indexer import IndexOptions, IndexReport, index_paths
from .models import DEFAULT_MODEL, ModelInfo, ModelRef, resolve_model_ref
from .search import QueryTerm, Searcher, SearchResult
from .store import IndexStore
from .vectors import VectorIndex

__all__ = [
    "DEFAULT_MODEL",
    "Catalog",
    "ClipsearchError",
    "Encoder",
    "ImageLoadError",
    "IndexCorruptError",
    "IndexLocation",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexOptions",
    "IndexReport",
    "IndexStore",
    "ModelError",
    "ModelInfo",
    "ModelMismatchError",
    "ModelRef",
    "ModelUnavailableError",
    "QueryTerm",
    "SearchResult",
    "Searcher",
    "TorchEncoder",
    "UsageError",
    "VectorIndex",
    "__version__",
    "api",
    "default_home",
    "index_paths",
    "load_encoder",
    "load_image",
    "resolve_model_ref",
]
