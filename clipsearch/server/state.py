"""What one server process shares between requests: the open :class:`~clipsearch.front.index.Index`
(its model loaded on first need, its cache of recent text vectors) and how files are served."""

from __future__ import annotations

from typing import Any

from ..config import IndexLocation
from ..front.files import descriptor_path
from ..front.index import Index

__all__ = ["ServerState", "descriptor_path"]


class ServerState:
    """What one server process shares between requests."""

    def __init__(self, location: IndexLocation, device: str | None, loader: Any, follow_links: bool = False) -> None:
        #: serve files whose real path leaves the indexed folders (``serve --follow-links``)
        self.follow_links = follow_links
        self.index = Index.open(location.name, location.home, device=device, loader=loader)
