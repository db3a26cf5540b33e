"""A query picture given as bytes (an upload, an item's file read safely): its vector, whole or a part."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..models.encoder import Encoder


def bytes_vector(
    encoder: Encoder, data: bytes, *, page: int = 1, box: str | Sequence[float] | None = None,
    max_megapixels: float = 50.0,
) -> np.ndarray:  # fmt: skip
    """The vector of a picture file's bytes (any format clipsearch indexes), or of a PDF's ``page``
    as the indexer renders pages; ``box``: of that part only (``"X0,Y0,X1,Y1"``, fractions), decoded
    large enough that the part alone fills the model's input, letterboxed so all of it is seen."""
    from ..ingest.images import load_image
    from ..ingest.pdf import render_pages
    from ..ingest.regions import crop_box, parse_box

    part = parse_box(box) if box is not None else None
    document = data[:5] == b"%PDF-"
    need = encoder.info.image_size
    if part is not None:
        need = min(4096, int(need / min(part[2] - part[0], part[3] - part[1])) + 1)
    if document:
        image = next(render_pages(data, name="upload", pages=[page]))[1]
    else:
        image = load_image(io.BytesIO(data), need, max_megapixels, name="upload")
    if part is not None:
        image = crop_box(image, part, base=None)
    return encoder.encode_images(encoder.preprocess(image, letterbox=document or part is not None)[None])[0]
