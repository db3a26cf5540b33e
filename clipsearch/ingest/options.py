"""What an indexing run is asked to do (:class:`IndexOptions`) and what it did (:class:`IndexReport`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import DEFAULT_MAX_MEGAPIXELS, DEFAULT_MAX_PAGES


@dataclass
class IndexOptions:
    exclude: tuple[str, ...] = ()
    include_hidden: bool = False
    #: Index file symlinks whose target lies outside the roots given (skipped, with that reason, if not).
    follow_links: bool = False
    #: The folders a file symlink must stay inside (``watch`` passes its roots while it indexes
    #: single changed files); empty: the paths of the run itself.
    within: tuple[str, ...] = ()
    batch_size: int = 32
    workers: int | None = None
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    max_pages: int = DEFAULT_MAX_PAGES
    #: Frames kept per video at most (``video.py`` keeps scene changes and one every 10 s).
    max_frames: int = 200
    #: Region vectors to store (see ``regions.REGIONS``), for pages chosen by ``region_filter``.
    regions: tuple[str, ...] = ()
    #: Items per catalog transaction at most: what a crash can cost, against per-commit overhead.
    commit_every: int = 256
    #: Seconds of work per catalog transaction at most: a run killed at any moment keeps all but the
    #: last few seconds of its work, however slow each item is.
    commit_seconds: float = 5.0
    #: Seconds one file may take to read and decode before it is skipped with that reason.
    file_timeout: float = 120.0
    #: Seconds the text pass may spend on one picture or page before it is marked "text unreadable".
    ocr_timeout: float = 60.0
    #: What reads text (``textreader.ENGINES``): 'auto' (RapidOCR, with Tesseract for the scripts it
    #: lacks where installed), 'rapidocr' or 'tesseract'. None: what the index remembers ('auto' for
    #: a new index); another engine than the remembered one reads every picture's text again.
    ocr_engine: str | None = None
    #: Where phase one keeps small copies of the pictures the text pass will read (``gatecache.py``);
    #: None: keep none (OCR off). Set by ``api.index`` from the index's OCR mode.
    gate_cache: str | None = None
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
    #: Files indexed in part, with what was left out (``{"path", "note"}``): a PDF past ``--max-pages``.
    partial_files: list[dict[str, str]] = field(default_factory=list)
    #: How the images were embedded: precision, runtime, int8 group and why (the planner's words).
    encoding: dict[str, Any] = field(default_factory=dict)
    #: Seconds of each phase: ``embed_s`` (scan, decode, embed, commit: searchable by meaning after
    #: it), ``text_s`` (the text pass).
    phases: dict[str, float] = field(default_factory=dict)
    #: What the text pass did (``textpass.TextReport``): read, with_text, unreadable, changed, seconds.
    text: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
