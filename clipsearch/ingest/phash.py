"""Perceptual codes for near-duplicate search: robust to resizing, recompression, light edits.

The code is 128 bits: imagehash's pHash (DCT) and dHash (gradient), both taken from the picture
with its uniform border trimmed off, so white padding or a page exported around a photo does not
move it. Measured on originals and edited copies made from the shared corpus (half size, JPEG 35,
~6 % crop, brightness/contrast, watermark, white padding), the summed Hamming distance kept every
pair of distinct pictures, technical drawings included, at 33 bits or more, while 97 % of copy
pairs were within 24 (``make eval`` reruns the measurement).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CODE_BYTES = 16
_TRIM_TOLERANCE = 12  # grey levels a border pixel may differ from the corners' colour
#: Below this spread of grey levels (standard deviation over the border-trimmed picture, at most
#: 512 px) a picture is flat colour or nearly: its code is the DCT's rounding noise, so any two such
#: pictures "match". Such a picture gets no code; only a byte-for-byte copy is its duplicate.
#: Flat colour with JPEG noise measures under 1.5; the faintest corpus drawing (brightened) 12.
FLAT_STD = 3.0


def trim_border(image: Image.Image) -> Image.Image:
    """Crop away a uniform border (the corners' colour); keep the image if that leaves too little."""
    box = _content_box(np.asarray(image.convert("L")))
    return image if box is None else image.crop(box)


def _content_box(grey: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box around pixels that differ from the corners' colour, or None to keep the whole image.

    Rows and columns are reduced first (``any``) instead of listing every differing pixel: the
    same box at a fifth of the cost on a photo, where nearly every pixel differs.
    """
    corners = grey[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int16)
    background = int(np.median(corners))
    mask = np.abs(grey.astype(np.int16) - background) > _TRIM_TOLERANCE
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    if (box[2] - box[0]) * (box[3] - box[1]) < 0.05 * grey.size:
        return None
    return box


def perceptual_code(image: Image.Image) -> bytes | None:
    """16 bytes: pHash then dHash (64 bits each) of the border-trimmed image; None for a picture
    with too little structure to tell it from another (see :data:`FLAT_STD`)."""
    import imagehash

    small = image
    if max(image.size) > 512:  # the hashes look at 32x32 and 9x8; trimming needs no more
        small = image.copy()
        small.thumbnail((512, 512))
    grey = small.convert("L")  # what both hashes look at, converted once (per pixel: commutes with crop)
    box = _content_box(np.asarray(grey))
    trimmed = grey if box is None else grey.crop(box)
    if float(np.asarray(trimmed, np.float32).std()) < FLAT_STD:
        return None
    bits = np.concatenate([imagehash.phash(trimmed).hash.ravel(), imagehash.dhash(trimmed).hash.ravel()])
    return np.packbits(bits.astype(np.uint8)).tobytes()


#: The codes flat colour got before :data:`FLAT_STD` existed (pHash keeps only the DC bit, black not
#: even that; dHash finds no edge), left out of perceptual matching in catalogs that still hold them.
FLAT_CODES = frozenset({b"\x80" + bytes(CODE_BYTES - 1), bytes(CODE_BYTES)})


def has_structure(code: bytes | None) -> bool:
    """Whether a stored code can stand for its picture: a code of the right size, not a flat one."""
    return code is not None and len(code) == CODE_BYTES and code not in FLAT_CODES


def hamming(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
