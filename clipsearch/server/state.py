"""What one server process shares between requests: the open :class:`~clipsearch.front.index.Index`
(its model loaded on first need, its cache of recent text vectors) and how files are served."""

from __future__ import annotations

import os
from typing import Any

from ..config import IndexLocation
from ..front.files import descriptor_path
from ..front.index import Index

__all__ = ["ServerState", "descriptor_path"]


class ServerState:
    """What one server process shares between requests."""

    def __init__(self, location: IndexLocation, device: str | None, loader: Any, follow_links: bool = False,
                 changes_to: str | None = None) -> None:  # fmt: skip
        #: serve files whose real path leaves the indexed folders (``serve --follow-links``)
        self.follow_links = follow_links
        #: where the page may move duplicate copies (``serve --allow-changes DIR``); None: read-only
        self.changes_to = os.path.abspath(os.path.expanduser(changes_to)) if changes_to else None
        self.index = Index.open(location.name, location.home, device=device, loader=loader)
