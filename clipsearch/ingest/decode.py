"""The decode stage: read each file once, hash its bytes, and decode it only when the hash is new.

A thread pool does this ahead of the model, in order, with a bounded number of files in flight, so
the model (on the calling thread) is fed while files are read and decoded in parallel. Nothing
here raises for a bad file: :class:`Prepared` carries the reason instead.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ImageLoadError
from ..models.encoder import Encoder
from .images import load_image
from .options import IndexOptions
from .pdf import is_pdf_path, render_pages
from .phash import perceptual_code
from .regions import REGION_BASE, crop
from .scan import FoundFile


@dataclass
class Page:
    page: int
    array: np.ndarray
    width: int
    height: int
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    phash: bytes | None = None


@dataclass
class Prepared:
    found: FoundFile
    content_hash: str = ""
    pages: list[Page] = field(default_factory=list)
    reason: str = ""  # non-empty: could not be used
    reuse: bool = False  # hash already in the catalog: no decoding was done


def page_of(number: int, image: Any, encoder: Encoder, opts: IndexOptions, document: bool) -> Page:
    width, height = image.info.get("original_size", image.size)
    regions = {name: encoder.preprocess(crop(image, name), letterbox=True) for name in opts.regions}
    array = encoder.preprocess(image, letterbox=document)
    return Page(number, array, int(width), int(height), regions, perceptual_code(image))


def prepare(found: FoundFile, known_hashes: frozenset[str], encoder: Encoder, opts: IndexOptions) -> Prepared:
    try:
        with open(found.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Prepared(found, reason="file vanished during the run")
    except PermissionError:
        return Prepared(found, reason="permission denied")
    except OSError as err:
        return Prepared(found, reason=f"cannot read: {err.strerror or err}")
    digest = hashlib.blake2b(data, digest_size=20).hexdigest()
    if digest in known_hashes:
        return Prepared(found, digest, reuse=True)
    try:
        if is_pdf_path(found.path):
            rendered = render_pages(data, name=found.path, max_pages=opts.max_pages)
            pages = [page_of(number, image, encoder, opts, document=True) for number, image in rendered]
        else:
            size = REGION_BASE if opts.regions else encoder.info.image_size
            image = load_image(io.BytesIO(data), size, opts.max_megapixels, name=found.path)
            pages = [page_of(0, image, encoder, opts, document=False)]
    except ImageLoadError as err:
        return Prepared(found, digest, reason=err.reason)
    return Prepared(found, digest, pages)


def prepared(todo: list[FoundFile], encoder: Encoder, opts: IndexOptions, known: frozenset[str]) -> Iterator[Prepared]:
    """Files read, hashed and decoded by a thread pool, in order, with a bounded number in flight."""
    workers = opts.workers or max(1, os.cpu_count() or 2)
    window = max(2 * opts.batch_size, 4 * workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clipsearch-load") as pool:
        queue: deque[Future[Prepared]] = deque()
        it = iter(todo)

        def submit() -> bool:
            entry = next(it, None)
            if entry is None:
                return False
            queue.append(pool.submit(prepare, entry, known, encoder, opts))
            return True

        for _ in range(window):
            if not submit():
                break
        try:
            while queue:
                prep = queue.popleft().result()
                submit()
                yield prep
        finally:
            for fut in queue:
                fut.cancel()
