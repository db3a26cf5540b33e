"""A query picture given as bytes (an upload, an item's file read safely): its vector, whole or a part."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from ..models.encoder import Encoder
    from ..query.filters import Filters
    from ..query.search import SearchResult
    from ..store.catalog import ItemRow


class _Index(Protocol):
    """What :func:`like_part_of` needs of an ``Index`` (which calls it: no import back)."""

    def similar(self, path: str, **kw: Any) -> list[SearchResult]: ...

    def similar_to_bytes(self, data: bytes, **kw: Any) -> list[SearchResult]: ...

    def open_file(self, row: ItemRow, *, follow_links: bool = False) -> tuple[int, Any]: ...


def like_part_of(
    ix: _Index, row: ItemRow, box: str | Sequence[float], *, k: int, filters: Filters | None, follow_links: bool
) -> list[SearchResult]:
    """Items like the part ``box`` of the indexed item ``row``, itself left out: its picture read
    from its file as the server serves it (opened safely), a video's frame decoded at its time."""
    import os

    if row.time is not None:
        return ix.similar(row.path, time=row.time, box=box, k=k, filters=filters)
    fd, _ = ix.files.open(row, follow_links=follow_links)
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    hits = ix.similar_to_bytes(data, page=row.page or 1, k=k + 1, filters=filters, box=box)
    return [h for h in hits if h.id != row.id][:k]


def like_bytes(
    ix: Any, data: bytes, *, page: int | None, k: int, filters: Filters | None, max_megapixels: float,
    box: str | Sequence[float] | None, documents: bool,
) -> list[SearchResult]:  # fmt: skip
    """:meth:`Index.similar_to_bytes`: the picture's (or page's, or whole PDF's) vector, then the search."""
    from ..errors import UsageError
    from ..query import documents as docs

    if documents and box is not None:
        raise UsageError("documents are compared by whole pages: not with a box")
    if documents and page is None and data[:5] == b"%PDF-":  # a whole PDF: by all its pages
        vec = docs.page_vectors(ix.query_encoder(), data, "upload")
    else:
        vec = bytes_vector(ix.query_encoder(), data, page=page or 1, box=box, max_megapixels=max_megapixels)
    with ix._query_lock:
        if documents:
            return docs.documents_like(ix.searcher, vec, k=k, filters=filters)
        hits = ix.searcher.search_vector(vec, k, filters=filters)
        if box is None:
            return hits
        from ..query.tiles import with_tiles

        return with_tiles(ix.searcher, hits, vec, k, None, (), filters)


def bytes_vector(
    encoder: Encoder, data: bytes, *, page: int = 1, box: str | Sequence[float] | None = None,
    max_megapixels: float = 50.0,
) -> np.ndarray:  # fmt: skip
    """The vector of a picture file's bytes (any format clipsearch indexes), or of a PDF's ``page``
    as the indexer renders pages; ``box``: of that part only (``"X0,Y0,X1,Y1"``, fractions), decoded
    large enough that the part alone fills the model's input, letterboxed so all of it is seen."""
    from ..ingest.images import load_image
    from ..ingest.pdf import render_pages
    from ..ingest.regions import crop_box, decode_side, parse_box

    part = parse_box(box) if box is not None else None
    document = data[:5] == b"%PDF-"
    need = encoder.info.image_size if part is None else decode_side(part, encoder.info.image_size)
    if document:
        image = next(render_pages(data, name="upload", pages=[page]))[1]
    else:
        image = load_image(io.BytesIO(data), need, max_megapixels, name="upload")
    if part is not None:
        image = crop_box(image, part, base=None)
    return encoder.encode_images(encoder.preprocess(image, letterbox=document or part is not None)[None])[0]
