"""The ``clipsearch`` command line: a thin front end over :class:`clipsearch.Index`.

Importing this package registers every command on :data:`cli`; ``main`` is the console script.
"""

from __future__ import annotations

from . import categories, duplicates, embedding, indexing, mapping, querying, serving  # noqa: F401  (they register commands)
from .app import cli, main

__all__ = ["cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
