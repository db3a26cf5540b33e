"""What an indexing run is asked to do (:class:`IndexOptions`) and what it did (:class:`IndexReport`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import DEFAULT_MAX_MEGAPIXELS, DEFAULT_MAX_PAGES


@dataclass
class IndexOptions:
    exclude: tuple[str, ...] = ()
    include_hidden: bool = False
    batch_size: int = 32
    workers: int | None = None
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    max_pages: int = DEFAULT_MAX_PAGES
    #: Frames kept per video at most (``video.py`` keeps scene changes and one every 10 s).
    max_frames: int = 200
    #: Region vectors to store (see ``regions.REGIONS``), for pages chosen by ``region_filter``.
    regions: tuple[str, ...] = ()
    #: Items per catalog transaction: what a crash can cost, against per-commit overhead.
    commit_every: int = 256
    #: Pages that get region vectors: 'drawings' (pages labelled technical drawing) or 'all';
    #: None: what the index remembers, else 'drawings'. Read by ``api.index``.
    region_scope: str | None = None
    #: Vector index of a new index, or a change of it: 'auto' or a FAISS factory string.
    index_type: str | None = None
    #: Text in pictures and scanned pages: 'none', 'auto' (where a text detector finds some) or
    #: 'all'. None: what the index remembers ('auto' for a new index). Read by ``api.index``.
    ocr: str | None = None
    #: Embed on a Ray cluster: 'local' (one on this machine) or a cluster address; None: here.
    ray: str | None = None
    #: Where a new index keeps its catalog: a ``postgresql://user@host/db`` URL; None:
    #: ``$CLIPSEARCH_CATALOG``, else a SQLite file in the index folder. For an existing index it
    #: must name the catalog the index has (a password in it is used, never stored).
    catalog: str | None = None


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    items: int = 0
    embedded: int = 0
    reused: int = 0
    #: Unchanged files whose text and metadata were filled in (a new extractor or OCR mode).
    enriched: int = 0
    seconds: float = 0.0
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    #: How the images were embedded: precision, runtime, int8 group and why (the planner's words).
    encoding: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
