"""The decode stage: read each file once, hash its bytes, and decode it only when the hash is new.

A thread pool does this ahead of the model, in order, with a bounded number of files in flight, so
the model (on the calling thread) is fed while files are read and decoded in parallel. Nothing
here raises for a bad file: :class:`Prepared` carries the reason instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ImageLoadError
from ..models.encoder import Encoder
from ..store.extras import Extras
from . import gatecache
from .extract import image_extras, pdf_extras
from .images import load_image
from .metadata import metadata
from .options import IndexOptions
from .pdf import is_pdf_path, page_count, render_pages
from .phash import signature
from .pool import DaemonPool, Task
from .regions import REGION_BASE, crop
from .scan import FoundFile
from .video import is_video_path, sample_frames

#: Which pages get region vectors: page vectors (n, dim) -> a boolean per page.
RegionFilter = Callable[[np.ndarray], np.ndarray]


@dataclass
class Page:
    page: int
    array: np.ndarray
    width: int
    height: int
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    phash: bytes | None = None
    extras: Extras | None = None
    time: float | None = None  # a video frame's time, seconds
    #: Set where the page was embedded elsewhere (a Ray actor, ``distributed.py``), with its regions'.
    vector: np.ndarray | None = None
    region_vectors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Prepared:
    found: FoundFile
    content_hash: str = ""
    pages: list[Page] = field(default_factory=list)
    reason: str = ""  # non-empty: could not be used
    reuse: bool = False  # hash already in the catalog: no decoding was done
    #: Unchanged file read again for its text and metadata only (``pages`` carry no arrays).
    enrich: bool = False
    #: Metadata of a reused file's own bytes (its text is copied from the item it duplicates).
    extras: Extras | None = None
    #: Used, but not whole: what was left out and why (a PDF cut at ``--max-pages``).
    note: str = ""


def page_of(number: int, image: Any, encoder: Encoder, opts: IndexOptions, document: bool) -> Page:
    width, height = image.info.get("original_size", image.size)
    regions = {name: encoder.preprocess(crop(image, name), letterbox=True) for name in opts.regions}
    array = encoder.preprocess(image, letterbox=document)
    return Page(number, array, int(width), int(height), regions, signature(image))


def prepare(
    found: FoundFile, known_hashes: frozenset[str], encoder: Encoder, opts: IndexOptions, enrich: bool = False
) -> Prepared:
    """Read, hash and decode one file, with its text and metadata (``enrich``: only those).

    The one door every file of a run goes through, here and on a Ray cluster: whatever a decoder,
    a renderer or a metadata reader raises for this file becomes its skip reason, so no file can
    end a run (``KeyboardInterrupt`` and ``SystemExit`` still do)."""
    try:
        return read_and_decode(found, known_hashes, encoder, opts, enrich)
    except MemoryError:
        return Prepared(found, reason="out of memory decoding this file", enrich=enrich)
    except Exception as err:  # a decoder's own bug or an odd file: this file's reason, never the run's end
        return Prepared(found, reason=f"cannot decode: {type(err).__name__}: {_short(err)}", enrich=enrich)


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else "")[:160]


def read_and_decode(
    found: FoundFile, known_hashes: frozenset[str], encoder: Encoder, opts: IndexOptions, enrich: bool
) -> Prepared:
    try:
        with open(found.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Prepared(found, reason="file vanished during the run")
    except PermissionError:
        return Prepared(found, reason="permission denied")
    except OSError as err:
        return Prepared(found, reason=f"cannot read: {err.strerror or err}")
    digest = "" if enrich else hashlib.blake2b(data, digest_size=20).hexdigest()
    if digest in known_hashes:
        return Prepared(found, digest, reuse=True, extras=metadata(found.path, data, found.mtime_ns))
    try:
        if is_pdf_path(found.path):
            total = page_count(data, found.path)
            if enrich:  # metadata and text layers need no pictures: nothing rendered
                images = dict.fromkeys(range(1, min(total, opts.max_pages) + 1))
            else:
                images = dict(render_pages(data, name=found.path, max_pages=opts.max_pages))
            extras = pdf_extras(found.path, data, found.mtime_ns, list(images))
            pages = [_page(n, image, encoder, opts, True, enrich, extras[n], digest) for n, image in images.items()]
            if total > len(pages):
                note = f"only the first {len(pages)} of {total} pages indexed (see --max-pages)"
                return Prepared(found, digest, pages, enrich=enrich, note=note)
        elif is_video_path(found.path):
            pages = _video_pages(found, data, encoder, opts, enrich)
        else:
            # Decoded at least as large as the text pass's gate looks (a 12 MP JPEG: 1/8 scale either
            # way), whether or not text is read: a JPEG's pixels, so its perceptual code, depend on the
            # scale it is decoded at, and a picture's code must not depend on an unrelated setting.
            size = max(REGION_BASE if opts.regions else encoder.info.image_size, gatecache.SHORT_SIDE)
            image = None if enrich else load_image(io.BytesIO(data), size, opts.max_megapixels, name=found.path)
            extras = image_extras(found.path, data, found.mtime_ns)
            pages = [_page(0, image, encoder, opts, False, enrich, extras, digest)]
    except ImageLoadError as err:
        return Prepared(found, digest, reason=err.reason, enrich=enrich)
    return Prepared(found, digest, pages, enrich=enrich)


def _video_pages(found: FoundFile, data: bytes, encoder: Encoder, opts: IndexOptions, enrich: bool) -> list[Page]:
    """One page per kept frame (``video.py``), each with the video's metadata and its time."""
    frames, facts = sample_frames(data, name=found.path, max_frames=opts.max_frames)
    video = metadata(found.path, data, found.mtime_ns, created=facts.get("creation_time"))
    video.ocr_mode = "all"  # frames are not read for text: no OCR mode would add any
    pages = []
    for number, frame in enumerate(frames, 1):
        page = _page(number, frame.image, encoder, opts, False, enrich, dataclasses.replace(video))
        page.time = frame.time
        pages.append(page)
    return pages


def _page(number: int, image: Any, encoder: Encoder, opts: IndexOptions, document: bool, enrich: bool,
          extras: Extras, digest: str = "") -> Page:  # fmt: skip
    if enrich:  # nothing for the model: the item keeps its vector
        return Page(number, np.zeros(0, np.float32), 0, 0, extras=extras)
    page = page_of(number, image, encoder, opts, document)
    page.extras = extras
    if opts.gate_cache and extras.ocr_mode == "none":  # the text pass will look at it: keep it small
        gatecache.save(image, gatecache.path_for(opts.gate_cache, digest, number))
    return page


def prepared(
    todo: list[FoundFile],
    encoder: Encoder,
    opts: IndexOptions,
    known: frozenset[str],
    enrich: frozenset[str] = frozenset(),
) -> Iterator[Prepared]:
    """Files read, hashed and decoded by a thread pool, in order, with a bounded number in flight.

    Paths in ``enrich`` are unchanged files read again for their text and metadata only. A file
    still decoding ``opts.file_timeout`` seconds after it started is skipped with that reason: its
    thread is left to finish on its own (a daemon, so it never holds the process at exit) and a
    fresh one takes its place."""
    workers = opts.workers or max(1, os.cpu_count() or 2)
    window = max(2 * opts.batch_size, 4 * workers)
    pool = DaemonPool(workers)
    queue: deque[tuple[FoundFile, Task]] = deque()
    it = iter(todo)

    def submit() -> None:
        entry = next(it, None)
        if entry is not None:
            queue.append((entry, pool.submit(prepare, entry, known, encoder, opts, entry.path in enrich)))

    for _ in range(window):
        submit()
    try:
        while queue:
            entry, task = queue.popleft()
            prep = task.result(opts.file_timeout)
            if prep is None:
                pool.replace_stuck()
                prep = Prepared(
                    entry, reason=f"took longer than {opts.file_timeout:g} s to decode (see --file-timeout)"
                )
            submit()
            yield prep
    finally:
        pool.shutdown()


def embed_regions(
    encoder: Encoder,
    pages: list[Page],
    vectors: np.ndarray,
    region_filter: RegionFilter | None,
) -> list[dict[str, np.ndarray]]:
    """Region vectors for the pages ``region_filter`` selects (all pages when it is None), one batch
    per region (the indexer here, the Ray actor in ``distributed.py``)."""
    out: list[dict[str, np.ndarray]] = [{} for _ in pages]
    if not pages or not pages[0].regions:
        return out
    chosen = np.ones(len(pages), bool) if region_filter is None else np.asarray(region_filter(vectors), bool)
    picked = [i for i in range(len(pages)) if chosen[i]]
    for name in pages[0].regions:
        if picked:
            embedded = encoder.encode_images(np.stack([pages[i].regions[name] for i in picked]))
            for i, vec in zip(picked, embedded, strict=True):
                out[i][name] = vec
    return out
