"""Sample files no package ships, written on the spot, for the tests and the benchmarks alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def synthetic_item(path: str, vector: np.ndarray, **fields: Any) -> Any:
    """A catalog row for a file that is not there: a one-byte 1x1 picture at ``path`` whose hash is
    its path, unless ``fields`` say otherwise (``content_hash=``, ``mtime_ns=``, ``extras=``...).
    The tests and the benchmarks that fill a catalog without pictures all build items so."""
    from clipsearch.store.catalog import NewItem

    row: dict[str, Any] = {"page": 0, "size": 1, "mtime_ns": 1, "content_hash": path, "width": 1, "height": 1}
    return NewItem(path=path, vector=vector, **(row | fields))


def write_dng(path: Path, width: int = 384, height: int = 256, orientation: int = 1) -> Path:
    """A DNG (a TIFF with DNG's tags, written with tifffile) of a scene whose left half is red and
    right half blue, as an RGGB Bayer mosaic: LibRaw reads it as any camera's DNG."""
    import tifffile

    scene = np.zeros((height, width, 3), np.uint16)
    scene[:, : width // 2] = (60000, 8000, 8000)
    scene[:, width // 2 :] = (8000, 8000, 60000)
    mosaic = np.zeros((height, width), np.uint16)
    mosaic[0::2, 0::2] = scene[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = scene[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = scene[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = scene[1::2, 1::2, 2]
    identity = (10000, 10000, 0, 10000, 0, 10000, 0, 10000, 10000, 10000, 0, 10000, 0, 10000, 0, 10000, 10000, 10000)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "clipsearch test camera", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50717, "I", 1, 65535, True),  # WhiteLevel
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (271, "s", 0, "Clipsearch", True),
        (272, "s", 0, "TestCam 1", True),
        (274, "H", 1, orientation, True),  # Orientation
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, mosaic, photometric=32803, extratags=tags)
    return path


def two_shapes(path: Path, seed: int = 5) -> Path:
    """One picture: a red circle in its left half, a blue star in its right half."""
    import numpy as np
    from PIL import Image

    from clipsearch.models.demo_shapes import draw

    rng = np.random.default_rng(seed)
    left, right = draw("red", "circle", rng).resize((120, 120)), draw("blue", "star", rng).resize((120, 120))
    both = Image.new("RGB", (240, 120), (255, 255, 255))
    both.paste(left, (0, 0))
    both.paste(right, (120, 0))
    both.save(path)
    return path


def text_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal PDF whose pages carry the given text as a real text layer (Helvetica, one line each)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, line in enumerate(pages):
        stream = f"BT /F1 24 Tf 72 700 Td ({line}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    path.parent.mkdir(parents=True, exist_ok=True)
    from clipsearch.query.dupeval import pdf_bytes

    path.write_bytes(pdf_bytes(objects))
    return path
