"""The one exception tree of clipsearch.

The library raises these and never prints or exits; the CLI turns any :class:`ClipsearchError`
into a single line on stderr and the exception's ``exit_code``. Anything else escaping the
library is a bug, and only then does the user see a traceback.
"""

from __future__ import annotations


class ClipsearchError(Exception):
    """Base of every error clipsearch raises on purpose."""

    exit_code = 1


class UsageError(ClipsearchError):
    """The user asked for something that cannot be done as asked (bad option value, missing path).

    ``web``: the same message for the HTTP API, where a message naming a command-line flag would
    mislead (the server says it instead of ``str(err)``)."""

    exit_code = 2

    def __init__(self, message: str, *, web: str | None = None) -> None:
        super().__init__(message)
        self.web = web or message


class IndexNotFoundError(ClipsearchError):
    """No index of that name exists under the home folder."""

    exit_code = 3


class ModelError(ClipsearchError):
    """The model could not be built or loaded."""

    exit_code = 4


class ModelUnavailableError(ModelError):
    """Weights could not be fetched or read (offline, missing file); the message says what to pass."""


class ExportError(ModelError):
    """The model could not be exported to ONNX; PyTorch can still run it (``--runtime torch``)."""


class ModelMismatchError(ModelError):
    """An index was built with one model and is being asked to use another."""


class IndexCorruptError(ClipsearchError):
    """An index folder exists but its manifest, catalog or vectors cannot be read."""

    exit_code = 5


class CatalogDamagedError(IndexCorruptError):
    """The catalog's file is damaged (SQLite says malformed): ``check --repair`` salvages it."""


class IndexLockedError(ClipsearchError):
    """Another process holds the write lock on this index."""

    exit_code = 6


class IndexReadOnlyError(ClipsearchError):
    """A write was asked of an index this process can only read (a read-only folder or file)."""

    exit_code = 8


class StorageFullError(ClipsearchError):
    """The disk holding the index is full: what was committed before is kept."""

    exit_code = 1


class CatalogUnavailableError(ClipsearchError):
    """The catalog's database server cannot be reached or refuses us (PostgreSQL catalogs)."""

    exit_code = 7


class AddressInUseError(ClipsearchError):
    """The server's address and port are taken (another server, or this one already running)."""

    exit_code = 9


class ImageLoadError(ClipsearchError):
    """One file could not be turned into an image. The indexer records it as skipped and goes on."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
